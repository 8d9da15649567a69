weft_add_test(NAME test_rtp LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rtp.c INTERNAL TIMEOUT 30)
