# examples/echo-client: weft offers to an HTTP (WHIP-shaped) echo endpoint and
# verifies every echo (doc/interop.md).
add_executable(echo-client ${CMAKE_CURRENT_LIST_DIR}/main.c ${CMAKE_CURRENT_LIST_DIR}/payload.c
                           ${CMAKE_CURRENT_LIST_DIR}/jsonl.c ${CMAKE_CURRENT_LIST_DIR}/media.c)
# weft_signaling also brings GLib, json-glib and libsoup (weft-glib.h needs GLib).
target_link_libraries(echo-client PRIVATE weft::weft weft_signaling weft_media_codec weft_warnings)
if(WEFT_BUILD_TESTS)
  # weft against weft: echo-client offers to echo-server over HTTP on 127.0.0.1.
  add_test(NAME example_echo_client
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_echo_client.py
                   $<TARGET_FILE:echo-client> $<TARGET_FILE:echo-server>)
  set_tests_properties(example_echo_client PROPERTIES LABELS e2e TIMEOUT 120)
endif()
