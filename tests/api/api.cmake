# API tests: the public header only, the real shared library, two peers in one
# process on 127.0.0.1 (pair.c). One executable per area so CTest runs them in
# parallel. Names carry "api" so they cannot clash with unit/transport tests.
add_library(weft_api_pair STATIC ${CMAKE_CURRENT_LIST_DIR}/pair.c)
target_link_libraries(weft_api_pair PUBLIC weft PkgConfig::GLIB Threads::Threads
                      PRIVATE weft_warnings)
target_include_directories(weft_api_pair PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(weft_api_pair PRIVATE _GNU_SOURCE)

foreach(t dc_messages dc_backpressure dc_receive media_queue dc_close negotiation bad_input threads cycles remote_bounds close_race certificates)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
    weft_add_test(NAME test_api_${t} LABELS api
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c TIMEOUT 60)
    target_link_libraries(test_api_${t} PRIVATE weft_api_pair)
  endif()
endforeach()
