weft_add_test(NAME test_sctp LABELS transport SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sctp.c INTERNAL TIMEOUT 120)
