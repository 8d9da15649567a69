weft_add_test(NAME test_ice LABELS transport SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ice.c INTERNAL
              TIMEOUT 60)
