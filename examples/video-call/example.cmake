# examples/video-call: VP8 test pattern + Opus tone to every peer of a room,
# what they send decoded (doc/rooms.md). weft_room_peer comes from
# chat/example.cmake, weft_media_codec (libvpx, libopus) from
# examples/CMakeLists.txt.
add_executable(video-call ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(video-call PRIVATE weft_room_peer weft_media_codec weft_warnings)
if(WEFT_BUILD_TESTS AND TARGET signaling-server)
  # Two peers for 10 s, at least 100 VP8 frames decoded each way (the margin
  # covers slow connection set-up under ASan on a loaded machine); the IVF and
  # WAV writers checked (test_video_call.py).
  add_test(NAME example_video_call
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_video_call.py
                   $<TARGET_FILE:video-call> $<TARGET_FILE:signaling-server> 10 100)
  set_tests_properties(example_video_call PROPERTIES LABELS e2e TIMEOUT 120)
endif()
