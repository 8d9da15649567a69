# Fuzz targets (DESIGN §6): one LLVMFuzzerTestOneInput per parser family.
#
# With any compiler each target is linked with the standalone driver.c and
# registered as a CTest test fuzz_<target> that replays the seed corpus and a
# fixed number of deterministic mutations of each seed (label unit). With
# clang and -DWEFT_BUILD_FUZZ=ON, real libFuzzer binaries fuzz-<target> are
# built as well (see tests/fuzz/README.md).
option(WEFT_BUILD_FUZZ "Build libFuzzer fuzz-<target> binaries (clang only)" OFF)

set(WEFT_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
# target=layer[+layer...]:mutations per seed in the smoke test
# (sized for ~20 s in all in the ASan+UBSan Debug build, ~3 s in release)
set(WEFT_FUZZ_TARGETS sdp=sdp:8000 jsep=jsep:3000 dcep=datachannel:50000 rtp=rtp:60000
    media=media:60000 demux=demux+rtp:20000 candidate=ice:30000 srtp=srtp:600
    sdpmedia=jsep:2000 dtls=dtls:2000 sctp=sctp:3000 pcmedia=pc+api:500)
# Per-input CPU time budget of the standalone driver (ms, -timeout_ms): the
# slowest input of any target stays under ~60 ms in the ASan+UBSan Debug
# build (measured on a loaded 2-core machine); the quadratic SDP of issue 12
# took 10 s there.
set(WEFT_FUZZ_TIMEOUT_MS 1000)
# Extra sources per target, compiled into it (so libFuzzer instruments them).
set(WEFT_FUZZ_EXTRA_signaling ${PROJECT_SOURCE_DIR}/examples/signaling/session.c
    ${PROJECT_SOURCE_DIR}/examples/signaling/sdpfrag.c
    ${PROJECT_SOURCE_DIR}/examples/signaling/room.c)
# The signaling target needs what examples/signaling needs (json-glib,
# libsoup for room.c's sig_valid_id), whether or not the examples are built.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(WEFT_FUZZ_SIG QUIET IMPORTED_TARGET json-glib-1.0 libsoup-3.0 gio-unix-2.0)
endif()
if(WEFT_FUZZ_SIG_FOUND)
  list(APPEND WEFT_FUZZ_TARGETS signaling=core:20000)
endif()

# libFuzzer needs the code under test instrumented for coverage, not only the
# target: the dedicated fuzz build tree compiles the library objects with
# -fsanitize=fuzzer-no-link (configure it with BUILD_SHARED_LIBS=OFF, see the
# README: a shared libweft would not link with the coverage hooks undefined).
# The sanitizer runtime (WEFT_SANITIZE) also resolves those hooks in the
# other executables of that tree, which link no libFuzzer.
set(WEFT_FUZZ_LIBFUZZER OFF)
if(WEFT_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(WARNING "WEFT_BUILD_FUZZ needs clang (libFuzzer): only the fuzz_<target> tests are built")
  elseif(BUILD_SHARED_LIBS OR NOT WEFT_SANITIZE)
    message(WARNING "WEFT_BUILD_FUZZ needs -DBUILD_SHARED_LIBS=OFF and WEFT_SANITIZE (e.g. "
                    "address,undefined): only the fuzz_<target> tests are built")
  else()
    set(WEFT_FUZZ_LIBFUZZER ON)
    target_compile_options(weft_objects PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endif()

foreach(entry ${WEFT_FUZZ_TARGETS})
  string(REGEX MATCH "^([a-z]+)=([a-z+]+):([0-9]+)$" _ "${entry}")
  set(name ${CMAKE_MATCH_1})
  string(REPLACE "+" ";" layers "${CMAKE_MATCH_2}")
  set(runs ${CMAKE_MATCH_3})
  set(missing OFF)
  foreach(layer ${layers})
    if(NOT layer IN_LIST WEFT_BUILT_MODULES)
      set(missing ON)
    endif()
  endforeach()
  if(missing)
    continue()
  endif()
  add_executable(fuzz_${name} ${WEFT_FUZZ_DIR}/fuzz_${name}.c ${WEFT_FUZZ_DIR}/driver.c
                 ${WEFT_FUZZ_EXTRA_${name}})
  target_include_directories(fuzz_${name} PRIVATE ${WEFT_FUZZ_DIR})
  target_link_libraries(fuzz_${name} PRIVATE weft_internal weft_warnings)
  if(name STREQUAL "signaling")
    target_include_directories(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR}/examples/signaling)
    target_link_libraries(fuzz_${name} PRIVATE PkgConfig::WEFT_FUZZ_SIG)
  endif()
  # build/<dir>/tests/fuzz/, as the README says (an include() has no binary dir of its own)
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
  add_test(NAME fuzz_${name} COMMAND fuzz_${name} -runs=${runs} -timeout_ms=${WEFT_FUZZ_TIMEOUT_MS}
                                     ${WEFT_FUZZ_DIR}/corpus/${name})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS unit TIMEOUT 120
    ENVIRONMENT "G_DEBUG=fatal-criticals;G_SLICE=always-malloc")

  if(WEFT_FUZZ_LIBFUZZER)
    add_executable(fuzz-${name} ${WEFT_FUZZ_DIR}/fuzz_${name}.c ${WEFT_FUZZ_EXTRA_${name}})
    target_include_directories(fuzz-${name} PRIVATE ${WEFT_FUZZ_DIR})
    target_compile_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz-${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz-${name} PRIVATE weft_internal weft_warnings)
    if(name STREQUAL "signaling")
      target_include_directories(fuzz-${name} PRIVATE ${PROJECT_SOURCE_DIR}/examples/signaling)
      target_link_libraries(fuzz-${name} PRIVATE PkgConfig::WEFT_FUZZ_SIG)
    endif()
    set_target_properties(fuzz-${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                          ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
  endif()
endforeach()
