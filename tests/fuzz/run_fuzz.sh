#!/bin/bash
# Fuzzes the ONNX loader with libFuzzer + AddressSanitizer, seeded with the PyTorch fixtures.
# Not part of CI. Usage: tests/fuzz/run_fuzz.sh [SECONDS=60] [WORK_DIR=/tmp/rmvk_fuzz]
set -euo pipefail
seconds=${1:-60}
work=${2:-/tmp/rmvk_fuzz}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work/corpus" "$work/obj"
cp -n "$root"/tests/fixtures/pytorch/*.onnx "$work/corpus/" 2>/dev/null || true

# The loader and what it calls (shape inference); everything else in rm/ is not needed.
sources=(onnx_fuzz onnx_io onnx_tensor shape_inference graph tensor)
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -DONNX_ML=1 -DONNX_NAMESPACE=onnx -I"$root")
objects=()
for s in "${sources[@]}"; do
    obj="$work/obj/$s.o"
    if [ ! -f "$obj" ] || [ "$root/rm/$s.cpp" -nt "$obj" ]; then
        clang++ "${flags[@]}" -c "$root/rm/$s.cpp" -o "$obj"
    fi
    objects+=("$obj")
done
clang++ "${flags[@]}" "${objects[@]}" -o "$work/onnx_fuzz" -lonnx_proto -lprotobuf -lpthread

# Large inputs only slow the fuzzer; the fixtures themselves are ~150 KB.
"$work/onnx_fuzz" "$work/corpus" -max_total_time="$seconds" -max_len=200000 -rss_limit_mb=4096 \
    -malloc_limit_mb=2048 -artifact_prefix="$work/" -print_final_stats=1
