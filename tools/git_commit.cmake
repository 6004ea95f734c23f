# Writes OUTPUT (a header defining ATTNSWEEP_GIT_COMMIT) from the git state of SOURCE_DIR.
# Run at every build, not at configure time, so the provenance stored in each HDF5 file names
# the commit the binary was really built from, with "-dirty" for uncommitted changes. The file
# is rewritten only when the text changes, so an unchanged tree rebuilds nothing.
execute_process(COMMAND git describe --always --dirty --abbrev=7 --exclude=*
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR commit STREQUAL "")
  set(commit unknown)
endif()
set(text "#define ATTNSWEEP_GIT_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUTPUT} "${text}")
endif()
