# The GUI test (ctest label gui): moescope-gui --autorun under Xvfb on the first Vulkan device
# (lavapipe in CI) with a generated model, validation on; then gui_autorun_check compares its
# screenshot and state dump with `moescope run --json` greedy output for the same prompt.
#   cmake -DGUI=... -DCLI=... -DCHECK=... -DXVFB_RUN=... -DWORK=dir -P test_gui_autorun.cmake
foreach(v GUI CLI CHECK XVFB_RUN WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "test_gui_autorun.cmake: -D${v}= missing")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(MODEL ${WORK}/model.gguf)
set(PROMPT "Once upon a time")
set(N 24)
set(W 1280)
set(H 800)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

# a model with enough layers and experts for a readable heatmap
run("gen-model" ${CLI} gen-model --arch qwen2moe --type q8_0 --n-layer 6 --n-expert 16 --n-expert-used 4 -o ${MODEL})
execute_process(COMMAND ${CLI} run -m ${MODEL} -p ${PROMPT} -n ${N} --json
                OUTPUT_FILE ${WORK}/cli.jsonl RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "moescope run failed (${rc}): ${err}")
endif()

set(ENV{MOESCOPE_VALIDATION} 1)
set(ENV{XDG_CONFIG_HOME} ${WORK}/config)  # never touch the user's settings
run("moescope-gui --autorun"
    ${XVFB_RUN} -a -s "-screen 0 ${W}x${H}x24"
    ${GUI} --autorun ${PROMPT} --model ${MODEL} -n ${N} --width ${W} --height ${H}
           --screenshot ${WORK}/gui.png --dump-state ${WORK}/gui.json --quit-after-generation)
unset(ENV{MOESCOPE_VALIDATION})

execute_process(COMMAND ${CHECK} --png ${WORK}/gui.png --width ${W} --height ${H} --dump ${WORK}/gui.json
                        --cli ${WORK}/cli.jsonl
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gui_autorun_check failed")
endif()
