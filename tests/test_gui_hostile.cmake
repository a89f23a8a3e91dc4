# The hostile model corpus through moescope-gui (ctest label gui), under Xvfb on the first Vulkan
# device: the app loads a good model and generates, then opens every broken file of the corpus as
# File > Open does; its state dump must show each file's error with the good model still loaded
# (hostile_corpus check-gui). Then a broken file given at start: exit 1 with one error line, and
# a dump that shows the error and no model.
#   cmake -DGUI=... -DCLI=... -DCORPUS=hostile_corpus -DXVFB_RUN=... -DWORK=dir -P test_gui_hostile.cmake
foreach(v GUI CLI CORPUS XVFB_RUN WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "test_gui_hostile.cmake: -D${v}= missing")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(GOOD ${WORK}/good.gguf)
set(DIR ${WORK}/hostile)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}: exit ${rc}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc})")
  endif()
endfunction()

run("gen-model" ${CLI} gen-model --arch qwen2moe --type q8_0 -o ${GOOD})
run("hostile_corpus write" ${CORPUS} write ${DIR})
file(STRINGS ${DIR}/files.txt files)
list(LENGTH files n)
set(ENV{MOESCOPE_VALIDATION} 1)
set(ENV{XDG_CONFIG_HOME} ${WORK}/config)  # never touch the user's settings
run("moescope-gui --then-open (${n} files)"
    ${XVFB_RUN} -a ${GUI} --autorun "Hello world" --model ${GOOD} -n 4 --dump-state ${WORK}/state.json
                --quit-after-generation --then-open ${files})
run("hostile_corpus check-gui" ${CORPUS} check-gui ${DIR} ${WORK}/state.json ${GOOD})

# a broken file as the first model
set(BAD ${DIR}/tok_bos_vocab.gguf)
execute_process(COMMAND ${XVFB_RUN} -a ${GUI} --autorun "Hello" --model ${BAD} -n 4 --dump-state ${WORK}/bad.json
                        --quit-after-generation
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "moescope-gui --model BAD: exit ${rc}\n${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "moescope-gui exited 0 on a broken model")
endif()
if(NOT err MATCHES "^moescope-gui: error: [^\n]*bos_token_id = 512 is out of range[^\n]*\n$")
  message(FATAL_ERROR "expected one 'moescope-gui: error: ...' line naming the problem on stderr")
endif()
file(READ ${WORK}/bad.json state)
string(JSON model_type TYPE "${state}" model)
string(JSON model_error GET "${state}" model_error)
if(NOT model_type STREQUAL "NULL" OR NOT model_error MATCHES "bos_token_id = 512 is out of range")
  message(FATAL_ERROR "the state dump should show no model and the error, got model ${model_type}, error '${model_error}'")
endif()
message(STATUS "moescope-gui shows the error of a broken first model: ${model_error}")
