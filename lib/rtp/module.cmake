# sources of lib/rtp (issue 4; bounds.c: issue 12)
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/rtp.c ${CMAKE_CURRENT_LIST_DIR}/rtcp.c
     ${CMAKE_CURRENT_LIST_DIR}/bounds.c)
