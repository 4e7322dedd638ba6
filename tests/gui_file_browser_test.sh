#!/bin/bash
# The File menu's in-app browser (--browse/--pick walk it folder by folder as double-clicks
# would): it lists folders and only the files it can open, opens the picked model or image,
# loads a bench report, and a name that is not listed is an error that keeps everything.
# Usage: bash gui_file_browser_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$(realpath "$1")
SRC=$(realpath "$2")
source "$SRC/tests/gui_lib.sh"

MODEL='builtin:resnet18?size=64x64&width=16&classes=10'
mkdir -p "$TMP/work/models/more" "$TMP/work/reports"
cp "$SRC/assets/fashion_resnet.onnx" "$TMP/work/models/picked.onnx"
printf 'notes\n' >"$TMP/work/models/notes.txt"
cp "$SRC/assets/samples/bag_1.png" "$TMP/work/models/not_a_model.png"
cd "$TMP/work"  # the model and report browsers start in the current folder

# A model, two folders down.
run_gui "$MODEL" --device cpu --browse model --pick models/picked.onnx --dump-state "$TMP/model.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 after picking a model"
$PY "$SRC/tests/gui_check.py" "$TMP/model.json" \
    's["errors"] == []' \
    's["model"]["name"] == "picked.onnx"' \
    's["model"]["spec"] == "'"$TMP/work/models/picked.onnx"'"' \
    's["outputs"]["match"] is True' \
    's["browser"]["open"] is False' \
    's["browser"]["dir"] == "'"$TMP/work/models"'"' \
    's["browser"]["dirs"] == ["more"] and s["browser"]["files"] == ["picked.onnx"]' \
    || fail=1

# An image: the image browser starts in the bundled samples.
run_gui "$MODEL" --device cpu --browse image --pick coat_2.png --dump-state "$TMP/image.json"
$PY "$SRC/tests/gui_check.py" "$TMP/image.json" \
    's["errors"] == []' \
    's["image"] == "'"$SRC/assets/samples/coat_2.png"'"' \
    'all(f.endswith(".png") for f in s["browser"]["files"]) and "coat_2.png" in s["browser"]["files"]' \
    || fail=1

# A bench report (any `rmvk bench --json` file; a short one is made here).
"$RMVK" bench "$MODEL" --warmup 0 --iters 1 --no-peak --json "$TMP/work/reports/run.json" >"$TMP/bench.log" 2>&1 ||
    { cat "$TMP/bench.log"; fail_with "rmvk bench --json"; }
DEVICE=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['device']['name'])" "$TMP/work/reports/run.json")
run_gui "$MODEL" --device cpu --browse report --pick reports/run.json --dump-state "$TMP/report.json"
$PY "$SRC/tests/gui_check.py" "$TMP/report.json" \
    's["errors"] == []' \
    's["active_tab"] == "Timing"' \
    's["report"]["path"] == "'"$TMP/work/reports/run.json"'"' \
    's["report"]["device"] == "'"$DEVICE"'" != ""' \
    's["report"]["matched_layers"] >= 20' \
    || fail=1

# Files of other kinds are not listed, so they cannot be picked.
run_gui "$MODEL" --device cpu --browse model --pick models/notes.txt --dump-state "$TMP/bad.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 after a failed pick"
$PY "$SRC/tests/gui_check.py" "$TMP/bad.json" \
    'len(s["errors"]) == 1 and "notes.txt" in s["errors"][0] and ".onnx" in s["errors"][0]' \
    's["model"]["spec"] == "builtin:resnet18?size=64x64&width=16&classes=10"' \
    's["browser"]["open"] is False' \
    '"not_a_model.png" not in s["browser"]["files"]' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_file_browser_test: OK"
exit $fail
