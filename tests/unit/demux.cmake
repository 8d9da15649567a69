weft_add_test(NAME test_demux LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_demux.c INTERNAL
              TIMEOUT 30)
