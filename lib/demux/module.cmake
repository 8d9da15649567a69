# sources of lib/demux
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/demux.c)
