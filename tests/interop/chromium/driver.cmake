# The node drivers that run headless Chromium (tests/interop/chromium/run.mjs,
# tests/e2e/run.mjs): one CTest test per mode. Included by both .cmake files.
include_guard(GLOBAL)

find_program(WEFT_NODE_EXECUTABLE node)

# Sets <example>_bin in the caller's scope for each example named: its binary,
# or a name that makes the test fail with a message when it is not built.
macro(weft_example_bins)
  foreach(example ${ARGN})
    if(TARGET ${example})
      set(${example}_bin "$<TARGET_FILE:${example}>")
    else()
      set(${example}_bin "${example}-target-is-not-built")
    endif()
  endforeach()
endmacro()

# One test <prefix>_<mode> per "mode=timeout" in `modes` (the CTest timeout in
# s; the driver bounds itself to 30 s less): `node driver mode ARGN --timeout
# ... --out-dir <build>/<out>/<mode>`, in a network namespace with only lo
# (tests/interop/netns-run: Chromium would otherwise gather on, and pair over,
# every interface of the machine), one browser test at a time. With
# WEFT_DRIVER_NETNS_FLAGS set to --veth in the caller (Firefox), the namespace
# also has a veth pair and a default route.
function(weft_chromium_driver_tests prefix label driver out modes)
  set(node ${WEFT_NODE_EXECUTABLE})
  if(NOT node)
    set(node node) # fails at run time: "Could not find executable node"
  endif()
  foreach(entry ${modes})
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 0 mode)
    list(GET parts 1 timeout)
    math(EXPR bound "${timeout} - 30")
    add_test(NAME ${prefix}_${mode}
             COMMAND ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../netns-run ${WEFT_DRIVER_NETNS_FLAGS} ${node}
                     ${driver} ${mode} ${ARGN}
                     --timeout ${bound} --out-dir ${CMAKE_BINARY_DIR}/${out}/${mode})
    set_tests_properties(${prefix}_${mode} PROPERTIES LABELS ${label} TIMEOUT ${timeout}
                         RESOURCE_LOCK chromium)
  endforeach()
endfunction()
