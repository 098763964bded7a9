# Runs a fuzzer once over every file of INPUTS (the regressions) and CORPUS
# (the seeds): `fuzz_x file...` executes each input once and fails on a
# crash. Used by the fuzz build's ctest.
file(GLOB inputs LIST_DIRECTORIES false "${INPUTS}/*" "${CORPUS}/*")
list(FILTER inputs EXCLUDE REGEX "/(README|\\.gitkeep)[^/]*$")
if(NOT inputs)
  message(STATUS "no inputs in ${INPUTS} or ${CORPUS}")
  return()
endif()
list(LENGTH inputs count)
message(STATUS "running ${FUZZER} over ${count} inputs")
execute_process(COMMAND "${FUZZER}" ${inputs} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc})")
endif()
