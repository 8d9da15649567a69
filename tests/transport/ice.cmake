weft_add_test(NAME test_ice LABELS transport SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ice.c INTERNAL
              TIMEOUT 60)
weft_add_test(NAME test_ice_deferred LABELS transport SOURCES
              ${CMAKE_CURRENT_LIST_DIR}/test_ice_deferred.c INTERNAL TIMEOUT 60)
