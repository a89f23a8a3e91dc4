# The chat reply's structure in the GUI (ctest label gui): moescope-gui --autorun --chat under Xvfb
# on the first Vulkan device (lavapipe in CI), validation on, with two small generated models:
#  - DeepSeek-R1's template (tests/jinja/templates/deepseek_r1.jinja), rendered by the interpreter:
#    its generation prompt ends with "<think>\n", so the whole reply is reasoning (the random
#    weights never close it in a few tokens) and its answer is empty;
#  - a template the interpreter cannot parse, of the ChatML family: the built-in ChatML format
#    is used and the window shows the warning.
# gui_autorun_check --expect / --expect-warning checks the dumps and the screenshots.
#   cmake -DGUI=... -DCLI=... -DCHECK=... -DXVFB_RUN=... -DWORK=dir -DTEMPLATES=dir -P test_gui_reply.cmake
foreach(v GUI CLI CHECK XVFB_RUN WORK TEMPLATES)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "test_gui_reply.cmake: -D${v}= missing")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(N 8)
set(W 1280)
set(H 800)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

# the unclosed output tag is a parse error; "<|im_start|>" names its family
file(WRITE ${WORK}/broken.jinja "{% for m in messages %}<|im_start|>{{ m.content }")

set(ENV{XDG_CONFIG_HOME} ${WORK}/config)  # never touch the user's settings
foreach(case reasoning broken)
  if(case STREQUAL "reasoning")
    set(TEMPLATE ${TEMPLATES}/deepseek_r1.jinja)
    set(EXPECT --expect reasoning)
  else()
    set(TEMPLATE ${WORK}/broken.jinja)
    set(EXPECT --expect-warning "; using the built-in chatml format of its family")
  endif()
  set(MODEL ${WORK}/${case}.gguf)
  run("gen-model (${case})" ${CLI} gen-model --arch qwen2moe --type q8_0 --n-layer 4 --n-expert 8 --n-expert-used 2
      --chat-template ${TEMPLATE} -o ${MODEL})
  set(ENV{MOESCOPE_VALIDATION} 1)
  run("moescope-gui --autorun --chat (${case})"
      ${XVFB_RUN} -a -s "-screen 0 ${W}x${H}x24"
      ${GUI} --autorun "Why is the sky blue?" --chat --model ${MODEL} -n ${N} --width ${W} --height ${H}
             --screenshot ${WORK}/${case}.png --dump-state ${WORK}/${case}.json --quit-after-generation)
  unset(ENV{MOESCOPE_VALIDATION})
  execute_process(COMMAND ${CHECK} --png ${WORK}/${case}.png --width ${W} --height ${H} --dump ${WORK}/${case}.json
                          ${EXPECT}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${case}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gui_autorun_check (${case}) failed")
  endif()
endforeach()
