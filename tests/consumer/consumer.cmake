# Consumers of the installed library (issue 6): run_consumers.sh installs this
# build tree into a temporary prefix and builds tests/consumer/consumer.c and
# consumer.cpp against it with pkg-config, find_package(weft CONFIG) and
# add_subdirectory(<source tree>), then runs all six programs.
# The driver checks for libweft.so.0, so it is registered for shared builds
# only (a static libweft has no runtime library to locate).
if(BUILD_SHARED_LIBS)
  set(_weft_consumer_type "${CMAKE_BUILD_TYPE}")
  if(NOT _weft_consumer_type)
    set(_weft_consumer_type RelWithDebInfo)
  endif()
  add_test(NAME consumer_install_pkgconfig_cmake_subdirectory
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_consumers.sh
      ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
      ${CMAKE_C_COMPILER} ${CMAKE_CXX_COMPILER} "${WEFT_SANITIZE}" ${_weft_consumer_type})
  # The add_subdirectory case compiles weft once more (-j2): minutes under ASan.
  set_tests_properties(consumer_install_pkgconfig_cmake_subdirectory PROPERTIES
    LABELS consumer TIMEOUT 900 PROCESSORS 2)
  unset(_weft_consumer_type)
endif()
