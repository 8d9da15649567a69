# tests/interop/chromium: weft's echo examples against headless Chromium
# (doc/interop.md, the interop matrix). The driver, run.mjs, runs under node
# with playwright-core from tests/interop/node_modules (scripts/deps installs it).
#
# tests/ is added before examples/, so echo-server and echo-client are not
# targets yet here: the tests are registered at the end of the top-level
# directory, when every target exists. A missing example, node, Chromium or
# playwright-core makes the tests FAIL with a message, never skip.

find_program(WEFT_NODE_EXECUTABLE node)
if(NOT WEFT_NODE_EXECUTABLE)
  set(WEFT_NODE_EXECUTABLE node) # fails at run time: "Could not find executable node"
endif()

function(weft_chromium_interop_tests dir)
  foreach(example echo-server echo-client)
    if(TARGET ${example})
      set(${example}_bin "$<TARGET_FILE:${example}>")
    else()
      set(${example}_bin "${example}-target-is-not-built")
    endif()
  endforeach()
  # mode -> CTest timeout (s); run.mjs bounds itself to 30 s less. Each test
  # runs in a network namespace with only lo (../netns-run): Chromium would
  # otherwise gather on, and pair over, every interface of the machine.
  # The media modes (issue 4) run about 12 s per case; media-weft-sends
  # saves a screenshot of weft's test pattern in its --out-dir.
  foreach(entry weft-answers=150 weft-offers=150 pq=90 mdns=120 media-echo=90 media-echo-h264=60
                media-weft-sends=90)
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 0 mode)
    list(GET parts 1 timeout)
    math(EXPR bound "${timeout} - 30")
    add_test(NAME interop_chromium_${mode}
             COMMAND ${dir}/../netns-run ${WEFT_NODE_EXECUTABLE} ${dir}/run.mjs ${mode}
                     --echo-server ${echo-server_bin} --echo-client ${echo-client_bin}
                     --timeout ${bound} --out-dir ${CMAKE_BINARY_DIR}/interop-chromium/${mode})
    set_tests_properties(interop_chromium_${mode} PROPERTIES LABELS interop TIMEOUT ${timeout}
                         RESOURCE_LOCK chromium)
  endforeach()
endfunction()

cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY \"${PROJECT_SOURCE_DIR}\"
  CALL weft_chromium_interop_tests \"${CMAKE_CURRENT_LIST_DIR}\")")
