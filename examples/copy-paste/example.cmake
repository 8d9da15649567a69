# examples/copy-paste: non-trickle offer/answer pasted between two terminals.
add_executable(copy-paste ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(copy-paste PRIVATE weft::weft weft_warnings)
if(WEFT_BUILD_TESTS)
  # Two processes wired through FIFOs by a script playing the human.
  add_test(NAME example_copy_paste
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_copy_paste.sh $<TARGET_FILE:copy-paste> 40)
  set_tests_properties(example_copy_paste PROPERTIES LABELS e2e TIMEOUT 60)
endif()
