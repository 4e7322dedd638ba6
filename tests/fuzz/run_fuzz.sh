#!/bin/bash
# Fuzzes rmvk's parsers with libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer (clang).
# Not part of CI: ctest replays the committed corpus and regressions instead (fuzz_*_replay).
#   tests/fuzz/run_fuzz.sh TARGET|all [SECONDS=60] [WORK_DIR=/tmp/rmvk_fuzz]
# TARGET: onnx, npy, image, idx, report; "all" runs each for SECONDS in turn. The build tree is
# build-fuzz/ in the repository; WORK_DIR keeps each target's growing corpus, its log
# (TARGET.log, ending with libFuzzer's final stats) and any crash-*/leak-*/timeout-*/oom-* input.
set -euo pipefail
all_targets=(onnx npy image idx report)
target=${1:?usage: run_fuzz.sh TARGET|all [SECONDS] [WORK_DIR]; TARGET is one of ${all_targets[*]}}
seconds=${2:-60}
work=${3:-/tmp/rmvk_fuzz}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz

if [ "$target" = all ]; then
    targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" $target "* ]]; then
    targets=("$target")
else
    echo "run_fuzz.sh: unknown target '$target' (one of ${all_targets[*]}, or all)" >&2
    exit 2
fi

# Inputs larger than a few KB only slow the fuzzer down: every format's interesting structure
# (headers, dims, chunk lengths) sits in the first bytes. ONNX seeds are tiny models (< 2.1 KB).
max_len() {
    case $1 in
        onnx) echo 4096 ;;
        image) echo 4096 ;;
        idx) echo 2048 ;;
        *) echo 2048 ;;
    esac
}

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="-g $sanitize" -DRMVK_FUZZ=ON > /dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"

status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t/corpus"
    cp -n "$root/tests/fuzz/corpus/$t/"* "$work/$t/corpus/"
    if [ -d "$root/tests/fuzz/regressions/$t" ]; then
        cp -n "$root/tests/fuzz/regressions/$t/"* "$work/$t/corpus/" 2>/dev/null || true
    fi
    echo "fuzzing $t for ${seconds}s (log: $work/$t.log)"
    # A small input that needs more than 1 GB is a finding. libFuzzer's timeout is wall-clock
    # time, and a fuzzer niced on a shared machine can stall for a minute on an input that
    # reruns in 5 ms, so it only catches hangs here; inputs over 10 s are kept as slow-unit-*
    # files, to be rerun on an idle machine.
    (cd "$work/$t" && "$build/tests/fuzz/fuzz_$t" corpus -max_total_time="$seconds" \
        -max_len="$(max_len "$t")" -timeout=300 -report_slow_units=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -artifact_prefix="$work/$t/" -print_final_stats=1) > "$work/$t.log" 2>&1 || status=1
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY" \
        "$work/$t.log" || true
done
exit $status
