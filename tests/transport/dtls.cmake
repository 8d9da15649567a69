# test_dtls_timeout runs the one case that waits out the default handshake
# bound (12.7 s) on its own, so each CTest entry stays short.
weft_add_test(NAME test_dtls LABELS transport INTERNAL TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dtls.c ARGS -s /dtls/timeout/default)
weft_add_test(NAME test_dtls_timeout LABELS transport INTERNAL TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dtls.c ARGS -p /dtls/timeout/default)
