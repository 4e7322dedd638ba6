#!/bin/bash
# The one script to run on a machine with a real GPU: what the device reports, the GPU tests
# under the validation layers, residual vs plain ResNet-50, the measured peak, ResNet-18/50
# timings at batch 1 and 32 in fp32 and fp16 storage (JSON reports), and a short sweep of conv
# tiles; one summary table at the end. On a CPU device (lavapipe) it runs the same steps at small sizes so that it stays
# short, and says so.
# Usage: bash tests/bench/gpu_first_run.sh BUILD_DIR [OUT_DIR] [--device D]
set -u
BUILD=${1:?usage: gpu_first_run.sh BUILD_DIR [OUT_DIR] [--device D]}
OUT=${2:-gpu_first_run}
shift $(($# >= 2 ? 2 : 1))
DEVICE=()
[ "${1:-}" = "--device" ] && DEVICE=(--device "${2:?--device needs a value}")
RMVK="$BUILD/app/rmvk"
mkdir -p "$OUT"
[ -x "$RMVK" ] || { echo "no rmvk binary at $RMVK (build first)"; exit 1; }

rows=()
row() { rows+=("$(printf '%-38s %-6s %s' "$1" "$2" "$3")"); }
step() { echo; echo "== $*"; }

step "devices"
"$RMVK" devices --json >"$OUT/devices.json" 2>&1
"$RMVK" devices | tee "$OUT/devices.txt"
# The device the other steps use: --device, else the default (marked *).
if [ ${#DEVICE[@]} -gt 0 ]; then
    line=$("$RMVK" bench --peak "${DEVICE[@]}" 2>&1 | grep -m1 '^device:')
else
    line=$(grep -m1 '^\*\[' "$OUT/devices.txt")
    line="$line $(grep -m1 -A1 '^\*\[' "$OUT/devices.txt" | tail -1)"
fi
if grep -q "cpu)" <<<"$line"; then
    CPU=1
    echo "CPU device (lavapipe): small sizes and few iterations, so the numbers only show that"
    echo "every step runs; they say nothing about GPU speed."
    SIZE=64x64 BIG_BATCH=2 ITERS=(--warmup 1 --iters 2) R50="builtin:resnet50?size=64x64"
else
    CPU=0 SIZE=224x224 BIG_BATCH=32 ITERS=(--warmup 3 --iters 20) R50="builtin:resnet50"
fi
device_name=$(sed -n 's/^\*\?\s*\[[0-9]*\] //p' "$OUT/devices.txt" | head -1)
units=$(grep -m1 "compute units" "$OUT/devices.txt" | sed 's/ *compute units *//')
row "device" "-" "$device_name, compute units $units"

step "GPU tests with the validation layers (each test fails on any message)"
if [ -d "$BUILD/tests" ]; then
    ctest --test-dir "$BUILD" -R "_gpu_test$" --output-on-failure >"$OUT/gpu_tests.txt" 2>&1
    rc=$?
    tail -3 "$OUT/gpu_tests.txt"
    row "GPU tests (validation layers on)" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
        "$(grep -m1 'tests passed' "$OUT/gpu_tests.txt")"
else
    row "GPU tests (validation layers on)" "skip" "no $BUILD/tests"
fi

step "run $R50 --graph both (validation layers on)"
IMAGE="$(dirname "$0")/../../assets/samples/sneaker_0.png"  # resized to the model's input
RMVK_VALIDATION=1 "$RMVK" run "$R50" --input "$IMAGE" --graph both "${DEVICE[@]}" \
    >"$OUT/run_resnet50.txt" 2>&1
rc=$?
cat "$OUT/run_resnet50.txt"
messages=$(grep -c "vulkan validation" "$OUT/run_resnet50.txt")
verdict=$(grep -m1 -E "^outputs (match|differ)|NOT FINITE" "$OUT/run_resnet50.txt")
row "run resnet50 --graph both" "$([ $rc -eq 0 ] && [ "$messages" -eq 0 ] && echo ok || echo FAIL)" \
    "${verdict:-no verdict}; $messages validation messages"

step "bench --peak"
"$RMVK" bench --peak "${DEVICE[@]}" 2>&1 | tee "$OUT/peak.txt"
row "bench --peak" "$([ ${PIPESTATUS[0]} -eq 0 ] && echo ok || echo FAIL)" \
    "$(grep -m1 '^peak:' "$OUT/peak.txt" | sed 's/^peak: //')"

# fp16 storage only where the device has storageBuffer16BitAccess (else one skip row).
PRECISIONS=(fp32)
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(x["storage_buffer_16bit"] for x in d) else 1)' \
    "$OUT/devices.json" 2>/dev/null; then
    PRECISIONS+=(fp16)
else
    row "bench --precision fp16" "skip" "no storageBuffer16BitAccess"
fi
reports=()
for model in resnet18 resnet50; do
    for batch in 1 "$BIG_BATCH"; do
        for precision in "${PRECISIONS[@]}"; do
            name="${model}_b${batch}_${precision}"
            step "bench builtin:$model --batch $batch --input-size $SIZE --precision $precision"
            "$RMVK" bench "builtin:$model" --graph both --batch "$batch" --input-size "$SIZE" \
                --precision "$precision" "${ITERS[@]}" "${DEVICE[@]}" --json "$OUT/$name.json" \
                >"$OUT/$name.txt" 2>&1
            rc=$?
            tail -12 "$OUT/$name.txt"
            [ $rc -eq 0 ] && reports+=("$OUT/$name.json")
            row "bench $model batch $batch $precision" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
                "$(grep -m1 'device total ms' "$OUT/$name.txt" | tr -s ' ')"
        done
    done
done

step "tile sweep: ResNet-50 residual, batch 1, one conv tile for every layer (no Winograd)"
for tile in tiled:64:64:16:8:4 tiled:64:64:16:4:4 tiled:32:64:16:4:4 tiled:64:32:16:4:4 \
    tiled:32:32:16:4:4 tiled:32:32:16:4:4:4; do
    RMVK_WINOGRAD=0 RMVK_CONV_TILE=$tile "$RMVK" bench "builtin:resnet50" --graph residual --batch 1 \
        --input-size "$SIZE" "${ITERS[@]}" --no-peak "${DEVICE[@]}" >"$OUT/tile_$tile.txt" 2>&1
    rc=$?
    row "tile $tile" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
        "$(grep -m1 'device total ms' "$OUT/tile_$tile.txt" | tr -s ' ')"
done
RMVK_WINOGRAD=0 "$RMVK" bench "builtin:resnet50" --graph residual --batch 1 --input-size "$SIZE" \
    "${ITERS[@]}" --no-peak "${DEVICE[@]}" >"$OUT/tile_planner.txt" 2>&1
row "tile: planner's choice per layer" "$([ $? -eq 0 ] && echo ok || echo FAIL)" \
    "$(grep -m1 'device total ms' "$OUT/tile_planner.txt" | tr -s ' ')"

if [ ${#reports[@]} -gt 0 ]; then
    step "bench reports side by side"
    "$RMVK" report "${reports[@]}" | tee "$OUT/report.txt"
fi

step "summary ($([ $CPU -eq 1 ] && echo "CPU device: small sizes, not GPU numbers" || echo "$SIZE"))"
printf '%-38s %-6s %s\n' "step" "result" "detail" | tee "$OUT/summary.txt"
for r in "${rows[@]}"; do echo "$r"; done | tee -a "$OUT/summary.txt"
echo "files: $OUT"
! grep -q " FAIL " "$OUT/summary.txt"
