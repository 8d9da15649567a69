# examples/file-transfer: send a file to a peer of a room (doc/rooms.md), with
# SHA-256 check and resume. weft_room_peer comes from chat/example.cmake.
add_executable(file-transfer ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(file-transfer PRIVATE weft_room_peer weft_warnings)
if(WEFT_BUILD_TESTS AND TARGET signaling-server)
  # 64 MiB weft -> weft: plain, cut after 32 MiB and resumed, a wrong
  # SHA-256 (test_file_transfer.py); prints the measured MB/s.
  add_test(NAME example_file_transfer
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_file_transfer.py
                   $<TARGET_FILE:file-transfer> $<TARGET_FILE:signaling-server> 64)
  set_tests_properties(example_file_transfer PROPERTIES LABELS e2e TIMEOUT 300)
endif()
