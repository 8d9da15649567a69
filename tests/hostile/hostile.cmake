# Hostile-peer harness (issue 12 §4): a peer built from weft's internal
# layers, connected to a real weft_pc from an ICE-validated address, attacks
# it while a second pc pair on the same context keeps echoing. See README.md.
# Label: hostile (ctest -L hostile). One executable per area so CTest runs
# them in parallel.
#
# Scale: the full-size attacks (1 GiB flood, the longer loops) run in
# optimized builds without sanitizers (HOSTILE_FULL=1); Debug and sanitizer
# builds run a quarter (the flood: 256 MiB). HOSTILE_TSAN scales the RSS
# bounds for ThreadSanitizer's shadow memory.
add_library(weft_hostile_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/hostile_peer.c)
target_link_libraries(weft_hostile_peer PUBLIC weft_test_common weft_internal PRIVATE weft_warnings)
target_include_directories(weft_hostile_peer PUBLIC ${CMAKE_CURRENT_LIST_DIR})
set(_hostile_defs _GNU_SOURCE)
if(WEFT_SANITIZE)
  list(APPEND _hostile_defs HOSTILE_SANITIZED=1)
  if(WEFT_SANITIZE MATCHES "thread")
    list(APPEND _hostile_defs HOSTILE_TSAN=1)
  endif()
elseif(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
  list(APPEND _hostile_defs HOSTILE_FULL=1)
endif()
target_compile_definitions(weft_hostile_peer PUBLIC ${_hostile_defs})

foreach(t dcep sctp media dtls flood)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_hostile_${t}.c)
    weft_add_test(NAME test_hostile_${t} LABELS hostile INTERNAL
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hostile_${t}.c TIMEOUT 180)
    target_link_libraries(test_hostile_${t} PRIVATE weft_hostile_peer)
  endif()
endforeach()
