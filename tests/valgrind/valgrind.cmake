# The loopback tests under valgrind (release build only: valgrind and the
# sanitizers don't mix). RUN_SERIAL: valgrind runs every thread of the process
# on one core, 20-50x slower; next to other tests on a 2-core machine whose
# cores are busy, two in-process peers starved so long that ICE consent or
# the media share failed (seen under scripts/under-load). Definite leaks and memory errors fail the test;
# "still reachable" process-lifetime allocations of GLib/usrsctp do not.
find_program(VALGRIND valgrind)
if(VALGRIND AND NOT WEFT_SANITIZE AND WEFT_BUILD_EXAMPLES)
  set(WEFT_VALGRIND ${VALGRIND} --error-exitcode=99 --leak-check=full
      --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30
      --suppressions=${CMAKE_CURRENT_LIST_DIR}/weft.supp)
  add_test(NAME valgrind_loopback
    COMMAND ${WEFT_VALGRIND} $<TARGET_FILE:loopback> --quiet --timeout 60)
  set_tests_properties(valgrind_loopback PROPERTIES LABELS valgrind TIMEOUT 240 RUN_SERIAL TRUE
    ENVIRONMENT "G_SLICE=always-malloc;G_DEBUG=gc-friendly")
  if(TARGET test_media_e2e)
    # The media engine (tracks, SRTP, RTCP timers, renegotiation, stop) on
    # its shorter cases; the 10 s and loss runs stay with ASan.
    add_test(NAME valgrind_media COMMAND ${WEFT_VALGRIND} $<TARGET_FILE:test_media_e2e>
             -p /media/pli -p /media/renegotiate -p /media/stop -p /media/errors)
    set_tests_properties(valgrind_media PROPERTIES LABELS valgrind TIMEOUT 300 RUN_SERIAL TRUE
      ENVIRONMENT "G_SLICE=always-malloc;G_DEBUG=gc-friendly")
  endif()
  if(TARGET test_api_cycles)
    add_test(NAME valgrind_api_cycles COMMAND ${WEFT_VALGRIND} $<TARGET_FILE:test_api_cycles>)
    set_tests_properties(valgrind_api_cycles PROPERTIES LABELS valgrind TIMEOUT 400 RUN_SERIAL TRUE
      ENVIRONMENT "G_SLICE=always-malloc;G_DEBUG=gc-friendly;WEFT_TEST_CYCLES=10")
  endif()
endif()
