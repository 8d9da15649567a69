# examples/chat: weft peers in a WebSocket room (doc/rooms.md). This file also
# defines weft_room_peer, the mesh of peer connections driven by the room
# protocol that chat, file-transfer and video-call share (examples/common):
# examples/CMakeLists.txt includes chat before the other two.
add_library(weft_room_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/../common/room_peer.c)
target_include_directories(weft_room_peer PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../common)
# weft_signaling brings GLib, json-glib and libsoup-3.0 (pkg-config targets).
target_link_libraries(weft_room_peer PUBLIC weft::weft weft_signaling PRIVATE weft_warnings)

add_executable(chat ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(chat PRIVATE weft_room_peer weft_warnings)
if(WEFT_BUILD_TESTS AND TARGET signaling-server)
  # Three chat peers in a room of the real signaling-server, plus a rogue
  # room client sending malformed signaling (test_chat.py).
  add_test(NAME example_chat
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_chat.py $<TARGET_FILE:chat>
                   $<TARGET_FILE:signaling-server>)
  set_tests_properties(example_chat PROPERTIES LABELS e2e TIMEOUT 120)
endif()
