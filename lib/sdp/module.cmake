# sources of lib/sdp
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/sdp.c)
