weft_add_test(NAME test_core LABELS unit INTERNAL TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
weft_add_test(NAME test_loop LABELS unit INTERNAL TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_loop.c)
weft_add_test(NAME test_ratelimit LABELS unit INTERNAL TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ratelimit.c)
