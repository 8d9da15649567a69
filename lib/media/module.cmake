# sources of lib/media (issue 4)
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/opus.c ${CMAKE_CURRENT_LIST_DIR}/vp8.c
     ${CMAKE_CURRENT_LIST_DIR}/h264.c ${CMAKE_CURRENT_LIST_DIR}/assembler.c)
