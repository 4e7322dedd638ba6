#!/bin/bash
# Drag-and-drop onto the window (--drop hands paths to the same handler as GLFW's drop
# callback): a model, an image and a `rmvk bench --json` report dropped together open the
# model, run the image on it and load the report for comparison in the Timing tab; a report
# from another machine keeps its device name, and its layers are matched by name.
# Usage: bash gui_drop_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$(realpath "$1")
SRC=$(realpath "$2")
source "$SRC/tests/gui_lib.sh"

MODEL='builtin:resnet18?size=64x64&width=16&classes=10'
# A real report of the same model, then said to come from another machine.
"$RMVK" bench "$MODEL" --warmup 1 --iters 2 --no-peak --json "$TMP/bench.json" >"$TMP/bench.log" 2>&1 ||
    { cat "$TMP/bench.log"; echo "FAIL: rmvk bench --json"; exit 1; }
$PY -c "
import json, sys
r = json.load(open(sys.argv[1])); r['device']['name'] = 'Other machine GPU'
json.dump(r, open(sys.argv[2], 'w'))" "$TMP/bench.json" "$TMP/other.json"
cp "$SRC/assets/fashion_resnet.onnx" "$TMP/dropped.onnx"
IMAGE="$SRC/assets/samples/bag_1.png"

# 1. Same model: the report's layers line up with the run's.
run_gui "$MODEL" --device cpu --drop "$TMP/other.json" --dump-state "$TMP/report.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 after a dropped report"
$PY "$SRC/tests/gui_check.py" "$TMP/report.json" \
    's["errors"] == []' \
    's["active_tab"] == "Timing"' \
    's["report"]["device"] == "Other machine GPU"' \
    's["report"]["path"].endswith("other.json")' \
    's["report"]["model"] == "builtin:resnet18?size=64x64&width=16&classes=10"' \
    's["report"]["residual_ms"] > 0 and s["report"]["plain_ms"] > 0' \
    's["report"]["matched_layers"] >= 20' \
    || fail=1

# 2. Model, image and report dropped at once, in that order.
run_gui "$MODEL" --device cpu --drop "$TMP/dropped.onnx" --drop "$IMAGE" --drop "$TMP/other.json" \
    --screenshot "$TMP/all.png" --dump-state "$TMP/all.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 after three drops"
$PY "$SRC/tests/gui_check.py" "$TMP/all.json" \
    's["errors"] == []' \
    's["model"]["name"] == "dropped.onnx" and s["model"]["spec"].endswith("dropped.onnx")' \
    's["image"] == "'"$IMAGE"'"' \
    's["outputs"]["residual_top5"][0]["label"] == "Bag"' \
    's["outputs"]["match"] is True' \
    's["report"]["device"] == "Other machine GPU"' \
    's["report"]["matched_layers"] == 0' \
    || fail=1
# The totals table gains a fifth column headed by the report's device: its header text sits
# where a four-column table (residual, plain structured, plain dense) has nothing
# (x 1500-1590, y 380-390).
sd=$(region_stat "$TMP/all.png" "90x10+1500+380" standard_deviation)
at_least "$sd" 0.05 || fail_with "report column headed in the totals table (std dev $sd)"

# 3. A file that is neither model, image nor report: refused, everything kept.
printf 'not json' >"$TMP/broken.json"
run_gui "$MODEL" --device cpu --drop "$TMP/broken.json" --dump-state "$TMP/broken_state.json"
$PY "$SRC/tests/gui_check.py" "$TMP/broken_state.json" \
    'len(s["errors"]) == 1 and "broken.json" in s["errors"][0]' \
    's["report"] is None' \
    's["model"]["spec"] == "builtin:resnet18?size=64x64&width=16&classes=10"' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_drop_test: OK"
exit $fail
