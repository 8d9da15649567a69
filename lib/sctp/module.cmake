# sources of lib/sctp
list(APPEND WEFT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/sctp.c)
