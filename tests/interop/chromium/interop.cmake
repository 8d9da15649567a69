# tests/interop/chromium: weft's echo examples against headless Chromium
# (doc/interop.md, the interop matrix). The driver, run.mjs, runs under node
# with playwright-core from tests/interop/node_modules (scripts/deps installs it).
#
# tests/ is added before examples/, so echo-server and echo-client are not
# targets yet here: the tests are registered at the end of the top-level
# directory, when every target exists. A missing example, node, Chromium or
# playwright-core makes the tests FAIL with a message, never skip.
include(${CMAKE_CURRENT_LIST_DIR}/driver.cmake)

function(weft_chromium_interop_tests dir)
  weft_example_bins(echo-server echo-client)
  # mode -> CTest timeout (s). The media modes (issue 4) run about 12 s per
  # case; media-weft-sends saves a screenshot of weft's test pattern in its
  # --out-dir.
  set(modes weft-answers=150 weft-offers=150 pq=90 mdns=120 media-echo=90 media-echo-h264=60
            media-weft-sends=90)
  weft_chromium_driver_tests(interop_chromium interop ${dir}/run.mjs interop-chromium "${modes}"
                             --echo-server ${echo-server_bin} --echo-client ${echo-client_bin})
  # The same driver against Firefox (issue 13): its modes, in a namespace
  # with a veth address and a default route (Firefox gathers nothing on lo).
  set(WEFT_DRIVER_NETNS_FLAGS --veth)
  set(firefox_modes weft-answers=150 weft-offers=150 mdns=120 media-echo=90 media-weft-sends=90)
  weft_chromium_driver_tests(interop_firefox interop ${dir}/run.mjs interop-firefox "${firefox_modes}"
                             --browser firefox --echo-server ${echo-server_bin}
                             --echo-client ${echo-client_bin})
endfunction()

cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY \"${PROJECT_SOURCE_DIR}\"
  CALL weft_chromium_interop_tests \"${CMAKE_CURRENT_LIST_DIR}\")")
