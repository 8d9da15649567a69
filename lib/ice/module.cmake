# sources of lib/ice
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/ice.c ${CMAKE_CURRENT_LIST_DIR}/ice_url.c)
