# sources of lib/dtls
list(APPEND WEFT_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cert.c
  ${CMAKE_CURRENT_LIST_DIR}/dtls.c
  ${CMAKE_CURRENT_LIST_DIR}/hmac.c)
