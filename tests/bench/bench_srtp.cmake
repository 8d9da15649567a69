# tests/bench: weft-bench-srtp, the SRTP media path next to raw libsrtp2.
#
# Included from tests/bench/bench.cmake (only when WEFT_BUILD_BENCH is on).
# White-box (weft_internal) for weft's srtp/ layer; libsrtp2 is called
# directly for the raw rate. The smoke test runs `--quick` and passes when
# every measurement completed and packets were delivered intact (the program's
# exit status); it never looks at the numbers.
add_executable(weft-bench-srtp ${CMAKE_CURRENT_LIST_DIR}/bench_srtp.c)
target_link_libraries(weft-bench-srtp PRIVATE weft_internal PkgConfig::SRTP Threads::Threads
                      weft_warnings)

add_test(NAME bench_srtp_smoke COMMAND weft-bench-srtp --quick)
set_tests_properties(bench_srtp_smoke PROPERTIES LABELS bench TIMEOUT 60)
