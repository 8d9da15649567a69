# sources of lib/datachannel
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/dcep.c)
