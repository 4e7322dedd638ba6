#!/bin/bash
# The desktop app with fp16 storage on the Vulkan device (--precision, the Timing tab's
# 'storage' control) under Xvfb: both graphs run in fp16, the state says so, and residual and
# plain still agree within the fp16 tolerance (rm::kFp16MatchTolerance, 1e-2 of max|residual|).
# Usage: bash gui_precision_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

if ! "$RMVK" devices --json | $PY -c 'import json,sys; sys.exit(0 if any(d["storage_buffer_16bit"] for d in json.load(sys.stdin)) else 1)'; then
    echo "SKIP: no Vulkan device with storageBuffer16BitAccess"
    exit 0
fi
run_gui --device 0 --precision fp16 --tab timing --dump-state "$TMP/state.json" \
    --screenshot "$TMP/shot.png"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui --precision fp16 exits 0"
[ -s "$TMP/state.json" ] || { echo "FAIL: no state dump"; exit 1; }
$PY "$SRC/tests/gui_check.py" "$TMP/state.json" \
    's["errors"] == [] and s["warnings"] == []' \
    's["device"] != "CPU reference"' \
    's["precision"] == "fp16"' \
    's["outputs"]["verdict"] == "match"' \
    'abs(s["outputs"]["relative_tolerance"] - 1e-2) < 1e-9' \
    's["outputs"]["max_abs_diff"] > 0' \
    '[c["class"] for c in s["outputs"]["residual_top5"]][:1] == [c["class"] for c in s["outputs"]["plain_top5"]][:1]' \
    's["timings"]["residual"]["present"] and s["timings"]["residual"]["total_ms"] > 0' \
    || fail=1
[ "$fail" -eq 0 ] && echo "gui_precision_test: OK"
exit $fail
