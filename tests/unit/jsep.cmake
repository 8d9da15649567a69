weft_add_test(NAME test_jsep LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jsep.c INTERNAL TIMEOUT 60)
