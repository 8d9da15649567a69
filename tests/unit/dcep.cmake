weft_add_test(NAME test_dcep LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dcep.c INTERNAL TIMEOUT 30)
