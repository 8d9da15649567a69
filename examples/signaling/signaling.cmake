# examples/signaling: the weft_signaling static library (HTTP offer/answer
# client and server, WHIP shape; the WebSocket room client; in-process and
# line transports) that the examples link.
pkg_check_modules(SOUP3 REQUIRED IMPORTED_TARGET libsoup-3.0)
pkg_check_modules(JSONGLIB REQUIRED IMPORTED_TARGET json-glib-1.0)
# gio-unix for stdin/stdout streams (sig_pipe_new's users, test_room).
pkg_check_modules(GIOUNIX REQUIRED IMPORTED_TARGET gio-unix-2.0)

add_library(weft_signaling STATIC
  ${CMAKE_CURRENT_LIST_DIR}/session.c
  ${CMAKE_CURRENT_LIST_DIR}/sdpfrag.c
  ${CMAKE_CURRENT_LIST_DIR}/http_client.c
  ${CMAKE_CURRENT_LIST_DIR}/http_server.c
  ${CMAKE_CURRENT_LIST_DIR}/room.c
  ${CMAKE_CURRENT_LIST_DIR}/inproc.c
  ${CMAKE_CURRENT_LIST_DIR}/pipe.c)
target_include_directories(weft_signaling PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(weft_signaling
  PUBLIC PkgConfig::GLIB PkgConfig::GIOUNIX PkgConfig::JSONGLIB PkgConfig::SOUP3
  PRIVATE weft_warnings)

if(WEFT_BUILD_TESTS)
  # Client and server against each other in one process, and the RFC 8840
  # fragment code (includes a 10 s wait for the 504 path).
  add_executable(test_signaling ${CMAKE_CURRENT_LIST_DIR}/test_signaling.c)
  target_link_libraries(test_signaling PRIVATE weft_signaling weft_warnings)
  add_test(NAME example_signaling COMMAND test_signaling)
  set_tests_properties(example_signaling PROPERTIES LABELS e2e TIMEOUT 60)
endif()
