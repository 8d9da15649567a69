# tests/e2e: the room applications of issue 5 end to end (doc/rooms.md): the
# signaling server, the room page (examples/web) in headless Chromium and the
# weft apps chat, file-transfer and video-call. The driver, run.mjs, runs
# under node with playwright-core from tests/interop/node_modules.
#
# tests/ is added before examples/, so the example targets do not exist yet
# here: the tests are registered at the end of the top-level directory. A
# missing example, node, Chromium or playwright-core makes a test FAIL with a
# message, never skip. Each runs in a network namespace with only lo
# (tests/interop/netns-run), as the Chromium interop tests do.
include(${CMAKE_CURRENT_LIST_DIR}/../interop/chromium/driver.cmake)

function(weft_e2e_tests dir)
  weft_example_bins(signaling-server chat file-transfer video-call)
  # mode -> CTest timeout (s)
  #   room   two pages + weft chat: join, chat exactly once, leave
  #   file   64 MiB weft -> page, page -> weft, and weft -> page cut half way
  #   video  video-call <-> page for 10 s; screenshot in e2e/video
  #   video-renegotiate  the page joins without a camera, weft offers, then
  #          the page starts video and re-offers: weft must keep its DTLS role
  weft_chromium_driver_tests(e2e e2e ${dir}/run.mjs e2e "room=90;file=240;video=120;video-renegotiate=90"
                             --server ${signaling-server_bin} --chat ${chat_bin}
                             --file-transfer ${file-transfer_bin} --video-call ${video-call_bin}
                             --web-root ${PROJECT_SOURCE_DIR}/examples/web)
endfunction()

cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY \"${PROJECT_SOURCE_DIR}\"
  CALL weft_e2e_tests \"${CMAKE_CURRENT_LIST_DIR}\")")
