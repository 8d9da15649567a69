# Media end to end: two weft peers over real UDP on 127.0.0.1 (tracks, SRTP,
# RTP/RTCP, NACK, PLI, renegotiation). White-box for the loss hook only.
weft_add_test(NAME test_media_e2e LABELS e2e media INTERNAL
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_media_e2e.c TIMEOUT 120)
# Media-side bounds (issue 12 §2): a remote's NACK flood, PLI/FIR flood and
# random-SSRC spray against a real session. White-box for the counters.
weft_add_test(NAME test_media_bounds LABELS e2e media INTERNAL
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_media_bounds.c TIMEOUT 120)
