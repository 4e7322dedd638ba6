#!/bin/bash
# Builds rmvk with AddressSanitizer + UndefinedBehaviorSanitizer (GCC) in build-asan/ and runs
# the whole ctest suite with it: unit tests, the GPU tests on lavapipe, the CLI and GUI shell
# tests (their rmvk binary is the sanitized one) and the fuzz corpus replays. Any report fails
# the test it came from. CI runs it after the normal suite.
#   bash tests/sanitize.sh [BUILD_DIR=build-asan]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-asan}

# float-cast-overflow is not part of GCC's -fsanitize=undefined; reading a report or a model
# converts user-given doubles, so it is asked for. -g1: line numbers in reports, a lighter build.
flags="-g1 -fno-omit-frame-pointer -fsanitize=address,undefined -fsanitize=float-cast-overflow"
flags+=" -fno-sanitize-recover=all"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$flags"
cmake --build "$build" -j2

export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Lavapipe holds some of its blocks only through its own globals, and the Vulkan loader unloads
# it when an instance is destroyed: LeakSanitizer then no longer sees those pointers and reports
# 128-byte "leaks" from "<unknown module>" in every GPU test. Preloading the driver keeps it
# mapped (and them reachable) until exit, so no suppression is needed; ASan would otherwise
# insist on coming first in the library list.
lvp=/usr/lib/$(gcc -dumpmachine)/libvulkan_lvp.so
if [ -f "$lvp" ]; then
    export LD_PRELOAD=$lvp${LD_PRELOAD:+:$LD_PRELOAD}
    export ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0
fi
ctest --test-dir "$build" --output-on-failure
