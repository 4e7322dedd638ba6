#!/bin/bash
# End to end: `rmvk run` on the CPU reference executor and on the Vulkan device, residual and
# plain graphs compared; `rmvk devices`; clear errors for a bad device and a missing input.
# Usage: bash cli_run_test.sh RMVK_BINARY SOURCE_DIR
# With CI=true a machine without a Vulkan device fails this test instead of skipping the GPU part.
set -u
RMVK=$1
SRC=$2
. "$(dirname "$0")/cli_lib.sh"
top1() { grep -m1 '^  1\. ' "$1" | awk '{print $2}'; }       # first class name printed
top5() { grep '^  [1-5]\. ' "$1" | head -5 | awk '{print $2}' | tr '\n' ' '; }

IMAGE="$SRC/assets/samples/sneaker_0.png"
SMALL='builtin:resnet18?size=32x32&width=8&classes=10'
FIXTURE="$SRC/tests/fixtures/pytorch/basic_fused_op13_b1_32x32"

"$RMVK" run --help >"$TMP/help" 2>&1
check "run --help exits 0" test $? -eq 0
check "run --help prints usage" grep -q "usage: rmvk run" "$TMP/help"

# The bundled Fashion-MNIST model names the sneaker, and its plain twin agrees.
"$RMVK" run --input "$IMAGE" --device cpu --graph both --output "$TMP/cpu.npy" >"$TMP/cpu.txt" 2>&1
check "bundled model on cpu exits 0" test $? -eq 0
check "cpu run says which device" grep -q "^device: cpu" "$TMP/cpu.txt"
check "cpu top-1 is the sneaker (got '$(top1 "$TMP/cpu.txt")')" grep -qi "sneaker" <<<"$(top1 "$TMP/cpu.txt")"
check "cpu residual and plain outputs match" grep -q "^outputs match" "$TMP/cpu.txt"
check "--output writes a .npy" test "$(head -c6 "$TMP/cpu.npy" | tail -c5)" = "NUMPY"

# A small builtin with an image input and a batch, on the CPU.
"$RMVK" run "$SMALL" --input "$IMAGE" --device cpu --graph both --batch 3 >"$TMP/small_cpu.txt" 2>&1
check "small builtin batch 3 on cpu exits 0" test $? -eq 0
check "batch 3 gives a [3, 10] output" grep -q "output \[3, 10\]" "$TMP/small_cpu.txt"
check "small builtin outputs match on cpu" grep -q "^outputs match" "$TMP/small_cpu.txt"

# Errors: one clear line, non-zero exit.
"$RMVK" run --input "$TMP/nope.npy" --device cpu >"$TMP/missing.txt" 2>&1
check "missing input exits 1 (an error, not a mismatch)" test $? -eq 1
check "missing input names the file" grep -q "nope.npy" "$TMP/missing.txt"
"$RMVK" run --input "$IMAGE" --graph sideways >"$TMP/badgraph.txt" 2>&1
check "bad --graph exits 2" test $? -eq 2
"$RMVK" run --input "$IMAGE" --device no-such-gpu-xyz >"$TMP/baddev.txt" 2>&1
check "bad device name exits 1" test $? -eq 1
check "bad device message names the device" grep -q "no-such-gpu-xyz" "$TMP/baddev.txt"
check "bad device message is one line" test "$(wc -l <"$TMP/baddev.txt")" -eq 1

# GPU part: needs a Vulkan device (lavapipe is enough).
if "$RMVK" devices >"$TMP/devices.txt" 2>&1; then
    check "devices lists a device" grep -q "^\*\[0\]" "$TMP/devices.txt"
    check "devices shows the storage buffer limit" grep -q "max storage buf" "$TMP/devices.txt"
    "$RMVK" devices --json >"$TMP/devices.json" 2>&1
    check "devices --json is an array with a name" grep -q '"name": ' "$TMP/devices.json"

    "$RMVK" run --input "$IMAGE" --device 0 --graph both >"$TMP/gpu.txt" 2>&1
    check "bundled model on the GPU exits 0" test $? -eq 0
    check "gpu run names the Vulkan device" grep -q "^device: \[0\]" "$TMP/gpu.txt"
    check "gpu residual and plain outputs match" grep -q "^outputs match" "$TMP/gpu.txt"
    check "gpu top-5 equals cpu top-5 ($(top5 "$TMP/gpu.txt")vs $(top5 "$TMP/cpu.txt"))" \
        test "$(top5 "$TMP/gpu.txt")" = "$(top5 "$TMP/cpu.txt")"

    "$RMVK" run "$SMALL" --input "$IMAGE" --graph both --batch 2 >"$TMP/small_gpu.txt" 2>&1
    check "small builtin on the default device exits 0" test $? -eq 0
    check "small builtin outputs match on the GPU" grep -q "^outputs match" "$TMP/small_gpu.txt"
    check "small builtin gpu top-5 equals cpu top-5" test "$(top5 "$TMP/small_gpu.txt")" = "$(top5 "$TMP/small_cpu.txt")"

    # The fixture is committed: a missing one is a failure, not a silent skip.
    check "PyTorch fixture $FIXTURE.onnx exists" test -f "$FIXTURE.onnx"
    check "PyTorch fixture input $FIXTURE.input.npy exists" test -f "$FIXTURE.input.npy"
    "$RMVK" run "$FIXTURE.onnx" --input "$FIXTURE.input.npy" --graph both >"$TMP/fixture.txt" 2>&1
    check "PyTorch fixture on the GPU exits 0" test $? -eq 0
    check "PyTorch fixture residual and plain match on the GPU" grep -q "^outputs match" "$TMP/fixture.txt"
else
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: no Vulkan device (CI=true requires one): $(cat "$TMP/devices.txt")"
        fail=1
    else
        echo "SKIP: GPU checks, no Vulkan device: $(cat "$TMP/devices.txt")"
    fi
    check "devices without a device exits non-zero with a message" grep -q "no Vulkan device" "$TMP/devices.txt"
fi

if [ $fail -ne 0 ]; then
    echo "--- last outputs ---"
    for f in cpu small_cpu gpu small_gpu; do [ -f "$TMP/$f.txt" ] && { echo "[$f]"; tail -20 "$TMP/$f.txt"; }; done
    exit 1
fi
echo "cli_run_test: all checks passed"
