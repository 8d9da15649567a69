# tests/bindings: the Python binding (bindings/python), tested with Debian's
# python3-pytest under /usr/bin/python3 against the libweft just built
# (WEFT_LIBRARY), straight from the source tree. One CTest test per pytest
# file. python3-aiortc, python3-venv and python3-setuptools are required:
# without them the tests fail (never skipped).
set(WEFT_PY_DIR ${PROJECT_SOURCE_DIR}/bindings/python)
set(WEFT_PY_ENV
    "WEFT_LIBRARY=$<TARGET_FILE:weft>"
    # Nothing written into the source tree (no __pycache__, .pytest_cache).
    "PYTHONDONTWRITEBYTECODE=1"
    "G_DEBUG=fatal-criticals")

# A sanitized libweft can only be loaded by an uninstrumented python if the
# sanitizer runtimes come first. Leak checking is left to the tests'
# weft_debug_live_objects() == 0 assertions: CPython itself does not free
# everything at exit, which LeakSanitizer would report.
if(WEFT_SANITIZE)
  set(WEFT_PY_PRELOAD "")
  foreach(rt asan ubsan)
    if((rt STREQUAL "asan" AND WEFT_SANITIZE MATCHES "address")
       OR (rt STREQUAL "ubsan" AND WEFT_SANITIZE MATCHES "undefined"))
      execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=lib${rt}.so
                      OUTPUT_VARIABLE rt_path OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(IS_ABSOLUTE "${rt_path}" AND EXISTS "${rt_path}")
        list(APPEND WEFT_PY_PRELOAD "${rt_path}")
      endif()
    endif()
  endforeach()
  string(REPLACE ";" ":" WEFT_PY_PRELOAD "${WEFT_PY_PRELOAD}")
  list(APPEND WEFT_PY_ENV "LD_PRELOAD=${WEFT_PY_PRELOAD}"
       "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0")
endif()

# name -> pytest file (under bindings/python/tests) and timeout.
set(WEFT_PY_TESTS
    "peers=test_peers.py=120"
    "gc=test_gc.py=180"
    "errors=test_errors.py=120"
    "blocking=test_blocking.py=120"
    "modes=test_modes.py=120"
    "glib_release=test_glib_release.py=60"
    "aiortc=test_aiortc.py=180"
    "lifecycle=test_lifecycle.py=120"
    "api=test_api.py=60"
    "media=test_media.py=180"
    "readme=test_readme.py=120"
    "install=test_install.py=300")
foreach(entry ${WEFT_PY_TESTS})
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 file)
  list(GET parts 2 timeout)
  add_test(NAME bindings_python_${name}
           COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider -W error::pytest.PytestUnraisableExceptionWarning tests/${file}
           WORKING_DIRECTORY ${WEFT_PY_DIR})
  set_tests_properties(bindings_python_${name} PROPERTIES LABELS bindings TIMEOUT ${timeout}
    ENVIRONMENT "${WEFT_PY_ENV}")
endforeach()
