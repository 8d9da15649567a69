# sources of lib/srtp (issue 4)
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/srtp.c)
