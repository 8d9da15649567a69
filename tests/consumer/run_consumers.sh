#!/usr/bin/env bash
# Installs the weft of a build tree into a temporary prefix and builds the
# consumer programs (consumer.c, consumer.cpp) against it three ways:
#   (a) cc/c++ with `pkg-config weft`,
#   (b) a CMake project using find_package(weft CONFIG),
#   (c) a CMake project doing add_subdirectory(<weft source tree>),
# then runs the six binaries; each must exit 0.
#
# usage: run_consumers.sh BUILD_DIR SOURCE_DIR CC CXX [SANITIZE] [BUILD_TYPE]
#   SANITIZE: the build's WEFT_SANITIZE ("" or e.g. "address,undefined").
#     A sanitized libweft needs the sanitizer runtime loaded first, so the
#     consumers are compiled and linked with the same -fsanitize flags (the
#     same thing any application linking that library has to do).
# Environment: WEFT_CONSUMER_KEEP=1 keeps the temporary directory.
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=$3
cxx=$4
sanitize=${5:-}
build_type=${6:-RelWithDebInfo}
here="$src/tests/consumer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-consumer.XXXXXX")
cleanup() {
  if [ "${WEFT_CONSUMER_KEEP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

start=$(date +%s)
step() { echo "== [$(($(date +%s) - start)) s] $*"; }
die() {
  echo "run_consumers: FAIL: $*" >&2
  exit 1
}
# Every child is bounded; `timeout` kills exactly the process it started.
bounded() {
  local limit=$1
  shift
  timeout -k 5 "$limit" "$@"
}
# Runs a command quietly, showing its output only when it fails.
quiet() {
  local log="$tmp/last.log" limit=$1
  shift
  if ! bounded "$limit" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "command failed: $*"
  fi
}

san_flags=()
if [ -n "$sanitize" ]; then
  san_flags=("-fsanitize=$sanitize" -fno-omit-frame-pointer)
fi
san_cmake=()
if [ -n "$sanitize" ]; then
  san_cmake=("-DCMAKE_C_FLAGS=${san_flags[*]}" "-DCMAKE_CXX_FLAGS=${san_flags[*]}"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=$sanitize"
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=$sanitize")
fi

# ---- 1. install ------------------------------------------------------------
prefix="$tmp/prefix"
step "cmake --install $build --prefix $prefix"
quiet 120 cmake --install "$build" --prefix "$prefix"

lib=$(find "$prefix" -name libweft.so.0 -print -quit)
[ -n "$lib" ] || die "libweft.so.0 not installed"
libdir=$(dirname "$lib")
for f in include/weft/weft.h include/weft/weft-glib.h include/weft/weft-version.h; do
  [ -f "$prefix/$f" ] || die "$f not installed"
done
for f in libweft.so pkgconfig/weft.pc pkgconfig/weft-glib.pc cmake/weft/weftConfig.cmake \
  cmake/weft/weftConfigVersion.cmake cmake/weft/weftTargets.cmake; do
  [ -e "$libdir/$f" ] || die "${libdir#"$prefix"/}/$f not installed"
done
# Nothing installed may point back into the build or source tree.
if grep -rlF -e "$build" "$prefix" --include='*.pc' --include='*.cmake' --include='*.h' >"$tmp/refs"; then
  cat "$tmp/refs" >&2
  die "installed files refer to the build tree $build"
fi
if readelf -d "$lib" | grep -E 'RPATH|RUNPATH' | grep -qF "$build"; then
  die "installed libweft.so.0 has an RPATH into the build tree"
fi

# Runs one consumer binary; @expect_lib is where libweft.so.0 must come from.
run_consumer() {
  local bin=$1 expect_dir=$2
  shift 2
  local resolved
  resolved=$(env "$@" ldd "$bin" | awk '$1 == "libweft.so.0" { print $3 }')
  [ "$(dirname "$resolved")" = "$expect_dir" ] ||
    die "$bin loads libweft.so.0 from '$resolved', expected $expect_dir"
  local t0 rc=0
  t0=$(date +%s%N)
  env "$@" timeout -k 5 60 "$bin" || rc=$?
  [ $rc = 0 ] || die "$bin exited with $rc"
  echo "   ${bin#"$tmp"/} OK in $((($(date +%s%N) - t0) / 1000000)) ms"
}

# ---- 2a. pkg-config --------------------------------------------------------
step "(a) pkg-config"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
pcver=$(pkg-config --modversion weft) || die "pkg-config cannot find weft"
hdrver=$(sed -n 's/^#define WEFT_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/weft/weft-version.h")
[ "$pcver" = "$hdrver" ] || die "weft.pc version $pcver, header $hdrver"
read -r -a pc_flags <<<"$(pkg-config --cflags --libs weft)"
printf '%s\n' "${pc_flags[@]}" | grep -qxF -- "-I$prefix/include" ||
  die "pkg-config --cflags weft does not point at $prefix/include: ${pc_flags[*]}"
printf '%s\n' "${pc_flags[@]}" | grep -qxF -- "-L$libdir" ||
  die "pkg-config --libs weft does not point at $libdir: ${pc_flags[*]}"
read -r -a glib_flags <<<"$(pkg-config --cflags --libs weft-glib)"
mkdir -p "$tmp/pc"
# weft-glib.pc must be enough to build against weft-glib.h (not run: it only
# has to compile and link).
printf '#include <weft/weft-glib.h>\nint main(void) { return weft_context_get_main_context(0) != 0; }\n' \
  >"$tmp/pc/glib.c"
quiet 120 "$cc" -std=c11 -Wall -Wextra -Werror "${san_flags[@]}" "$tmp/pc/glib.c" \
  -o "$tmp/pc/glib" "${glib_flags[@]}"
quiet 120 "$cc" -std=c11 -Wall -Wextra -Werror -pedantic "${san_flags[@]}" \
  "$here/consumer.c" -o "$tmp/pc/consumer_c" "${pc_flags[@]}"
quiet 120 "$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic "${san_flags[@]}" \
  "$here/consumer.cpp" -o "$tmp/pc/consumer_cpp" "${pc_flags[@]}" -pthread
run_consumer "$tmp/pc/consumer_c" "$libdir" "LD_LIBRARY_PATH=$libdir"
run_consumer "$tmp/pc/consumer_cpp" "$libdir" "LD_LIBRARY_PATH=$libdir"
unset PKG_CONFIG_PATH

# ---- 2b. find_package(weft CONFIG) ----------------------------------------
step "(b) find_package(weft CONFIG)"
quiet 120 cmake -S "$here/find_package" -B "$tmp/fp" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCONSUMER_SOURCES="$here" "${san_cmake[@]}"
found=$(sed -n 's/^weft_DIR:PATH=//p' "$tmp/fp/CMakeCache.txt")
[ "$found" = "$libdir/cmake/weft" ] || die "find_package found weft in '$found', not $libdir/cmake/weft"
quiet 300 cmake --build "$tmp/fp" -j2
# CMake's build RPATH locates the imported library: no LD_LIBRARY_PATH.
run_consumer "$tmp/fp/consumer_c" "$libdir"
run_consumer "$tmp/fp/consumer_cpp" "$libdir"

# ---- 2c. add_subdirectory(<source tree>) ---------------------------------
step "(c) add_subdirectory($src) — builds weft again"
quiet 120 cmake -S "$here/subdirectory" -B "$tmp/sub" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DWEFT_SOURCE_DIR="$src" \
  -DWEFT_SANITIZE="$sanitize" -DCONSUMER_SOURCES="$here" "${san_cmake[@]}"
if [ -e "$tmp/sub/weft-build/tests" ] || [ -e "$tmp/sub/weft-build/examples" ]; then
  die "add_subdirectory(weft) configured weft's tests or examples"
fi
quiet 600 cmake --build "$tmp/sub" -j2
sublib=$(find "$tmp/sub/weft-build" -name libweft.so.0 -print -quit)
[ -n "$sublib" ] || die "add_subdirectory build produced no libweft.so.0"
run_consumer "$tmp/sub/consumer_c" "$(dirname "$sublib")"
run_consumer "$tmp/sub/consumer_cpp" "$(dirname "$sublib")"

step "all 6 consumers passed"
