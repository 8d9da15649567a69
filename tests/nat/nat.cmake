# tests/nat: NAT traversal with real NATs (network namespaces, iptables
# MASQUERADE) and a real coturn (issue 7). nat_test.py builds the networks,
# starts turnserver, runs two nat_peer processes (or nat_peer and aiortc) and
# tears everything down. Needs root (CI has it): without it, or without
# turnserver / iptables / ip, every test FAILS (never skips).
add_executable(nat_peer ${CMAKE_CURRENT_LIST_DIR}/nat_peer.c)
target_link_libraries(nat_peer PRIVATE weft PkgConfig::GLIB weft_warnings)

# scenario -> CTest timeout (s); nat_test.py bounds itself below it.
set(WEFT_NAT_SCENARIOS
    host=60 srflx=60 symmetric_stun_only=90 symmetric_turn_udp=60 symmetric_turn_tcp=60
    relay_policy=60 wrong_credentials=60 wrong_credentials_relay=60 turns_refused=30 restart=90
    restart_by_moved_peer=90 consent=120
    aiortc_relay=90 ice_tcp=90 ice_tcp_silent=90 ice_tcp_stray=60 ice_tcp_off=90 ice_tcp_off_silent=90)
foreach(entry ${WEFT_NAT_SCENARIOS})
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 scenario)
  list(GET parts 1 timeout)
  math(EXPR bound "${timeout} - 10")
  add_test(NAME nat_${scenario}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/nat_test.py
                   --peer $<TARGET_FILE:nat_peer> --scenario ${scenario} --timeout ${bound})
  set_tests_properties(nat_${scenario} PROPERTIES LABELS nat TIMEOUT ${timeout})
endforeach()

# The API part that needs no namespace (TURN REST credentials, ICE restart on
# 127.0.0.1): the two-peer harness of tests/api.
if(TARGET weft_api_pair)
  weft_add_test(NAME test_nat_api LABELS nat SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nat_api.c
                TIMEOUT 60)
  target_link_libraries(test_nat_api PRIVATE weft_api_pair)
endif()
