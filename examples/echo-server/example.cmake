# examples/echo-server: weft answers offers POSTed over HTTP and echoes every
# data channel message (doc/interop.md).
add_executable(echo-server ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(echo-server PRIVATE weft::weft weft_signaling weft_warnings)
if(WEFT_BUILD_TESTS)
  # HTTP status codes, limits and shutdown against the server alone, then
  # echo-clients (weft against weft) at once. echo-client is defined after
  # this file: the generator expression resolves at generate time.
  add_test(NAME example_echo_server
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_echo_server.py
                   $<TARGET_FILE:echo-server> $<TARGET_FILE:echo-client>)
  set_tests_properties(example_echo_server PROPERTIES LABELS e2e TIMEOUT 180)
endif()
