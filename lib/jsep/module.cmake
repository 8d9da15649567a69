# sources of lib/jsep
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/jsep.c)
