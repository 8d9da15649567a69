# examples/loopback: two peer connections in one process (public API only).
add_executable(loopback ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(loopback PRIVATE weft::weft weft_media_codec weft_warnings)
if(WEFT_BUILD_TESTS)
  add_test(NAME example_loopback COMMAND loopback)
  set_tests_properties(example_loopback PROPERTIES LABELS e2e TIMEOUT 60)
endif()
