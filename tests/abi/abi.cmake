if(BUILD_SHARED_LIBS)
  add_test(NAME abi_symbols_and_headers
    COMMAND ${CMAKE_COMMAND} -E env
      python3 ${CMAKE_CURRENT_LIST_DIR}/check_abi.py $<TARGET_FILE:weft>
      ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
      ${CMAKE_C_COMPILER} ${CMAKE_CXX_COMPILER})
  set_tests_properties(abi_symbols_and_headers PROPERTIES LABELS abi TIMEOUT 120)
endif()
add_test(NAME abi_layering COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_layering.py
  ${PROJECT_SOURCE_DIR}/lib)
set_tests_properties(abi_layering PROPERTIES LABELS abi TIMEOUT 60)
