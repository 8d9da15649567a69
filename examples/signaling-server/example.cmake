# examples/signaling-server: the WebSocket room server of doc/rooms.md, which
# also serves the room page (examples/web) over HTTP on the same port.
add_executable(signaling-server ${CMAKE_CURRENT_LIST_DIR}/main.c ${CMAKE_CURRENT_LIST_DIR}/guard.c)
get_filename_component(WEFT_WEB_ROOT_DEFAULT ${CMAKE_CURRENT_LIST_DIR}/../web ABSOLUTE)
target_compile_definitions(signaling-server PRIVATE WEFT_WEB_ROOT="${WEFT_WEB_ROOT_DEFAULT}")
# weft_signaling brings GLib, json-glib and libsoup-3.0 (the server uses
# nothing else of it but sig_valid_id and sig_json_to_string).
target_link_libraries(signaling-server PRIVATE weft_signaling weft_warnings)
if(WEFT_BUILD_TESTS)
  # The protocol, every error code, the limits and shutdown from the outside
  # (a stdlib WebSocket client: wsclient.py), then the abuse test of issue 5.
  add_test(NAME example_signaling_server
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_signaling_server.py
                   $<TARGET_FILE:signaling-server>)
  set_tests_properties(example_signaling_server PROPERTIES LABELS e2e TIMEOUT 180)
  # The room transport of examples/signaling (sig_room, its sig_session
  # adapter) against this server, plus the in-process and line transports.
  add_executable(test_signaling_room ${CMAKE_CURRENT_LIST_DIR}/../signaling/test_room.c)
  target_link_libraries(test_signaling_room PRIVATE weft_signaling weft_warnings)
  add_test(NAME example_signaling_room COMMAND test_signaling_room $<TARGET_FILE:signaling-server>)
  set_tests_properties(example_signaling_room PROPERTIES LABELS e2e TIMEOUT 60)
endif()
# The same under valgrind, the server included (release build only: valgrind
# and the sanitizers don't mix). Definite leaks and memory errors fail.
find_program(SIGSRV_VALGRIND valgrind)
if(WEFT_BUILD_TESTS AND SIGSRV_VALGRIND AND NOT WEFT_SANITIZE)
  set(SIGSRV_VG ${SIGSRV_VALGRIND} --error-exitcode=99 --leak-check=full
      --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30
      --suppressions=${PROJECT_SOURCE_DIR}/tests/valgrind/weft.supp)
  add_test(NAME valgrind_signaling_room
           COMMAND ${SIGSRV_VG} $<TARGET_FILE:test_signaling_room> ${SIGSRV_VG} $<TARGET_FILE:signaling-server>)
  set_tests_properties(valgrind_signaling_room PROPERTIES LABELS valgrind TIMEOUT 300
                       ENVIRONMENT "G_SLICE=always-malloc;G_DEBUG=gc-friendly")
endif()
