weft_add_test(NAME test_sdp LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdp.c INTERNAL TIMEOUT 60)
