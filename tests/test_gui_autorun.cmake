# The GUI test (ctest label gui): moescope-gui --autorun under Xvfb on the first Vulkan device
# (lavapipe in CI) with a generated model, validation on; then gui_autorun_check compares its
# screenshot and state dump with `moescope run --json` greedy output for the same prompt.
#   cmake -DGUI=... -DCLI=... -DCHECK=... -DXVFB_RUN=... -DWORK=dir [-DMODEL_FILE=F.gguf] [-DCACHE=N]
#         -P test_gui_autorun.cmake
# MODEL_FILE: run on this model instead of a generated one. CACHE: both programs run with
# --expert-cache N; the CLI's output must equal its output without the cache, and the dump and
# screenshot must show the cache panel's state.
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

if(DEFINED MODEL_FILE)
  set(MODEL ${MODEL_FILE})
else()
  # a model with enough layers and experts for a readable heatmap
  run("gen-model" ${CLI} gen-model --arch qwen2moe --type q8_0 --n-layer 6 --n-expert 16 --n-expert-used 4 -o ${MODEL})
endif()
set(CACHE_ARGS)
set(CHECK_ARGS)
if(DEFINED CACHE)
  set(CACHE_ARGS --expert-cache ${CACHE})
  set(CHECK_ARGS --cache ${CACHE} --cli-reference ${WORK}/cli-resident.jsonl)
  execute_process(COMMAND ${CLI} run -m ${MODEL} -p ${PROMPT} -n ${N} --json
                  OUTPUT_FILE ${WORK}/cli-resident.jsonl RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "moescope run (every expert resident) failed (${rc}): ${err}")
  endif()
endif()
execute_process(COMMAND ${CLI} run -m ${MODEL} -p ${PROMPT} -n ${N} --json ${CACHE_ARGS}
                OUTPUT_FILE ${WORK}/cli.jsonl RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "moescope run ${CACHE_ARGS} failed (${rc}): ${err}")
endif()

set(ENV{MOESCOPE_VALIDATION} 1)
set(ENV{XDG_CONFIG_HOME} ${WORK}/config)  # never touch the user's settings
run("moescope-gui --autorun"
    ${XVFB_RUN} -a -s "-screen 0 ${W}x${H}x24"
    ${GUI} --autorun ${PROMPT} --model ${MODEL} -n ${N} --width ${W} --height ${H} ${CACHE_ARGS}
           --screenshot ${WORK}/gui.png --dump-state ${WORK}/gui.json --export-trace ${WORK}/gui-trace.jsonl
           --quit-after-generation)
unset(ENV{MOESCOPE_VALIDATION})

execute_process(COMMAND ${CHECK} --png ${WORK}/gui.png --width ${W} --height ${H} --dump ${WORK}/gui.json
                        --cli ${WORK}/cli.jsonl --trace ${WORK}/gui-trace.jsonl ${CHECK_ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gui_autorun_check failed")
endif()
