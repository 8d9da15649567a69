weft_add_test(NAME test_srtp LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_srtp.c INTERNAL
              TIMEOUT 60)
