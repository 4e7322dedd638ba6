#!/bin/bash
# End to end: `rmvk prune` on a small sparse model (tests/fixtures/sparse_tiny.onnx): exact
# pruning changes no output, the pruned ONNX loads and runs (CPU and Vulkan), --max-drop never
# reads the test split (a stub dataset whose test files are corrupt), the sweep's table and
# JSON, and bad input.
# Usage: bash cli_prune_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
. "$(dirname "$0")/cli_lib.sh"
MODEL="$SRC/tests/fixtures/sparse_tiny.onnx"
IMAGE="$SRC/assets/samples/sneaker_0.png"
DATA=/usr/share/datasets/fashion-mnist

"$RMVK" prune --help >"$TMP/help" 2>&1
check "prune --help exits 0" test $? -eq 0
check "prune --help prints usage" grep -q "usage: rmvk prune" "$TMP/help"
check "prune --help says the test set is never used to choose" grep -q "never used to choose" "$TMP/help"

# Exact pruning (threshold 0): both graphs, every layer reported, outputs unchanged.
"$RMVK" prune "$MODEL" -o "$TMP/p.onnx" --graph both --device cpu --val-limit 200 --test-limit 200 \
    >"$TMP/exact.txt" 2>&1
check "exact prune exits 0" test $? -eq 0
check "a layer's channels before -> after are printed" grep -q "/blocks/blocks.0/conv1/Conv.rm .* 16 -> " "$TMP/exact.txt"
check "both files written" test -s "$TMP/p.onnx" -a -s "$TMP/p_residual.onnx"
# max|d| <= 1e-6 * max|logit| on real images, for both.
awk '/^max\|d\|/ { d = $(NF-2); m = $NF; sub(/\)/, "", m); if (d + 0 > 1e-6 * m) bad = 1; n++ }
     END { exit (n == 2 && !bad) ? 0 : 1 }' "$TMP/exact.txt"
check "exact pruning changes no output (max|d| <= 1e-6 max|logit|)" test $? -eq 0
check "plain pruning removes more conv channels than residual" \
    test "$(grep -m1 '^conv channels' "$TMP/exact.txt" | awk '{print $5}' | tr -d ,)" -lt \
         "$(grep '^conv channels' "$TMP/exact.txt" | tail -1 | awk '{print $5}' | tr -d ,)"

# The pruned model is an ordinary ONNX: rmvk reads it, runs it on the CPU and the device alike.
"$RMVK" run "$TMP/p.onnx" --input "$IMAGE" --device cpu --output "$TMP/cpu.npy" >"$TMP/run_cpu.txt" 2>&1
check "pruned model runs on the CPU" test $? -eq 0
"$RMVK" run "$MODEL" --input "$IMAGE" --device cpu --output "$TMP/ref.npy" >/dev/null 2>&1
check "same top-1 as the unpruned model" test "$(grep -m1 '^  1\. ' "$TMP/run_cpu.txt")" = \
    "$("$RMVK" run "$MODEL" --input "$IMAGE" --device cpu 2>&1 | grep -m1 '^  1\. ')"
if "$RMVK" devices >/dev/null 2>&1 && [ -n "$("$RMVK" devices 2>/dev/null | grep '^\*\?\[0\]')" ]; then
    "$RMVK" run "$TMP/p.onnx" --input "$IMAGE" --output "$TMP/gpu.npy" >"$TMP/run_gpu.txt" 2>&1
    check "pruned model runs on the Vulkan device" test $? -eq 0
    check "same top-1 on the device" test "$(grep -m1 '^  1\. ' "$TMP/run_gpu.txt")" = \
        "$(grep -m1 '^  1\. ' "$TMP/run_cpu.txt")"
fi
# --max-drop chooses on the validation split only: a stub dataset whose test files are not
# IDX files chooses the same threshold as the real one, then fails only when reporting.
if [ -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    mkdir -p "$TMP/stub"
    ln -s "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz" "$TMP/stub/"
    echo "the test split must not be read" | gzip >"$TMP/stub/t10k-images-idx3-ubyte.gz"
    cp "$TMP/stub/t10k-images-idx3-ubyte.gz" "$TMP/stub/t10k-labels-idx1-ubyte.gz"
    "$RMVK" prune "$MODEL" -o "$TMP/md.onnx" --max-drop 1 --device cpu --val-limit 300 \
        --test-limit 100 >"$TMP/md_real.txt" 2>&1
    check "--max-drop exits 0" test $? -eq 0
    "$RMVK" prune "$MODEL" -o "$TMP/md2.onnx" --max-drop 1 --device cpu --val-limit 300 \
        --test-limit 100 --data-dir "$TMP/stub" >"$TMP/md_stub.txt" 2>&1
    check "the stub's test split fails when read for the report" grep -q "t10k-images.*not an IDX" "$TMP/md_stub.txt"
    chosen() { grep -m1 "chosen on the validation split" "$1"; }
    check "a threshold is chosen before the test split is touched" test -n "$(chosen "$TMP/md_stub.txt")"
    check "the same threshold with and without a test split" test "$(chosen "$TMP/md_real.txt")" = "$(chosen "$TMP/md_stub.txt")"
    check "--max-drop prints test accuracy with the real dataset" grep -q "^plain pruned " "$TMP/md_real.txt"

    # The sweep: table and JSON, both curves, device time when there is a device.
    "$RMVK" prune "$MODEL" --sweep --points 3 --runs 1 --val-limit 100 --test-limit 100 \
        --json "$TMP/sweep.json" >"$TMP/sweep.txt" 2>&1
    check "sweep exits 0" test $? -eq 0
    check "sweep table has plain pruned rows" test "$(grep -c '^plain pruned' "$TMP/sweep.txt")" -ge 2
    check "sweep table has residual pruned rows" test "$(grep -c '^residual pruned' "$TMP/sweep.txt")" -ge 2
    python3 - "$TMP/sweep.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["format"] == "rmvk-prune-sweep-1"
assert len(j["plain_pruned"]) == len(j["residual_pruned"]) >= 2
for p in [j["residual"], j["plain"]] + j["plain_pruned"] + j["residual_pruned"]:
    assert p["macs"] > 0 and p["params"] > 0 and p["val_accuracy"] is not None
assert j["plain_pruned"][0]["threshold"] == 0
assert j["plain_pruned"][-1]["macs"] < j["plain"]["macs"]
PY
    check "sweep JSON holds both curves with sizes and accuracy" test $? -eq 0
fi

# Bad input: one clear line, non-zero exit.
"$RMVK" prune "$MODEL" >"$TMP/noout.txt" 2>&1
check "missing -o exits 2" test $? -eq 2
check "missing -o says so" grep -q "\-o PRUNED.onnx is required" "$TMP/noout.txt"
"$RMVK" prune "$MODEL" -o "$TMP/x.onnx" --threshold -1 >"$TMP/neg.txt" 2>&1
check "negative threshold exits 2" test $? -eq 2
"$RMVK" prune "$MODEL" -o "$TMP/x.onnx" --threshold 1 --max-drop 1 >"$TMP/both.txt" 2>&1
check "--threshold with --max-drop exits 2" test $? -eq 2
"$RMVK" prune "$MODEL" -o "$TMP/x.onnx" --graph sideways >"$TMP/g.txt" 2>&1
check "bad --graph exits 2" test $? -eq 2
"$RMVK" prune "$TMP/missing.onnx" -o "$TMP/x.onnx" --device cpu >"$TMP/missing.txt" 2>&1
check "missing model exits 1" test $? -eq 1
check "missing model names the file" grep -q "missing.onnx" "$TMP/missing.txt"
check "missing model error is one line" test "$(wc -l <"$TMP/missing.txt")" -eq 1
"$RMVK" prune "$MODEL" -o "$TMP/x.onnx" --max-drop 1 --device cpu --data-dir "$TMP/nowhere" >"$TMP/nodata.txt" 2>&1
check "--max-drop without a dataset exits 1" test $? -eq 1
check "--max-drop without a dataset says what to install" grep -q "dataset-fashion-mnist" "$TMP/nodata.txt"
"$RMVK" prune "$MODEL" --sweep -o "$TMP/x.onnx" >"$TMP/sw.txt" 2>&1
check "--sweep with -o exits 2" test $? -eq 2

exit $fail
