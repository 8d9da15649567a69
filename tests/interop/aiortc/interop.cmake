# tests/interop/aiortc: the aiortc half of the interop matrix (doc/interop.md).
# The weft side is echo-server (weft answers, aiortc offers) or echo-client
# (weft offers to an aiortc-backed WHIP-shaped endpoint); the driver is run.py.
# Debian's python3-aiortc is required: without it every test fails (never skipped).

# In a network namespace of its own with only lo (../netns-run).
set(WEFT_AIORTC_DRIVER ${CMAKE_CURRENT_LIST_DIR}/../netns-run /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/run.py
    --echo-server $<TARGET_FILE:echo-server> --echo-client $<TARGET_FILE:echo-client>
    --timeout 90)

# name -> driver arguments (";"-separated, "|" stands for a space in the list).
set(WEFT_AIORTC_TESTS
    "weft_answers=weft-answers"
    "weft_answers_trickle=weft-answers|--trickle"
    "weft_answers_audio=weft-answers|--audio"
    # aiortc trickles candidates of its per-section transports, which the
    # BUNDLE answer discards: weft must accept and ignore them.
    "weft_answers_audio_trickle=weft-answers|--audio|--trickle"
    "weft_offers=weft-offers"
    "weft_offers_trickle=weft-offers|--|--trickle"
    "weft_offers_channels8=weft-offers|--|--channels|8"
    "weft_offers_unordered=weft-offers|--|--unordered|--max-retransmits|0"
    "weft_offers_negotiated=weft-offers|--|--negotiated|42"
    "weft_offers_remote_close=weft-offers|--|--await-remote-close|10"
    # Media: aiortc offers audio + video to echo-server and decodes the echo;
    # echo-client sends VP8 + Opus to aiortc, which re-encodes them back.
    "weft_answers_media=media-answers|--seconds|8"
    "weft_offers_media=weft-offers|--|--media|--channels|0|--media-seconds|8"
    "weft_offers_media_data=weft-offers|--|--media|--media-seconds|8")

foreach(entry ${WEFT_AIORTC_TESTS})
  string(FIND "${entry}" "=" eq)
  string(SUBSTRING "${entry}" 0 ${eq} name)
  math(EXPR eq "${eq} + 1")
  string(SUBSTRING "${entry}" ${eq} -1 args)
  string(REPLACE "|" ";" args "${args}")
  add_test(NAME interop_aiortc_${name}
           COMMAND ${WEFT_AIORTC_DRIVER} --name aiortc_${name} ${args})
  set_tests_properties(interop_aiortc_${name} PROPERTIES LABELS interop TIMEOUT 120)
endforeach()
