weft_add_test(NAME test_media LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_media.c INTERNAL TIMEOUT 60)
