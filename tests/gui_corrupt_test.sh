#!/bin/bash
# Bad input in the desktop app: a corrupt model opened after start-up is refused with a message
# while the previous model and its results stay; a corrupt MODEL on the command line falls back
# to the bundled model with the error shown; no display at all is a clear error and exit 1.
# Usage: bash gui_corrupt_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

head -c 3000 /dev/urandom >"$TMP/corrupt.onnx"
printf 'not a model at all\n' >"$TMP/garbage.onnx"
MODEL='builtin:resnet18?size=64x64&width=16&classes=10'

run_gui "$MODEL" --device cpu --open-after-start "$TMP/corrupt.onnx" --screenshot "$TMP/a.png" --dump-state "$TMP/a.json"
[ "$gui_rc" -eq 0 ] || fail_with "app keeps running after a corrupt model (exit 0)"
$PY "$SRC/tests/gui_check.py" "$TMP/a.json" \
    'len(s["errors"]) == 1 and "corrupt.onnx" in s["errors"][0]' \
    's["model"]["spec"] == "builtin:resnet18?size=64x64&width=16&classes=10"' \
    's["outputs"]["match"] is True' \
    's["feature_maps"]["residual"]["non_blank"]' \
    || fail=1
grep -q "corrupt.onnx" "$TMP/gui.log" || fail_with "the error names the file on stderr"
# The error modal is drawn: its red heading text appears in the middle of the window.
red=$(colour_fraction "$TMP/a.png" "500x200+550+400" "rgb(255,97,89)")
at_least "$red" 0.0005 || fail_with "error dialog visible in the screenshot (red share $red)"

run_gui "$TMP/garbage.onnx" --device cpu --dump-state "$TMP/b.json"
[ "$gui_rc" -eq 0 ] || fail_with "a corrupt MODEL argument still opens the app"
$PY "$SRC/tests/gui_check.py" "$TMP/b.json" \
    'len(s["errors"]) == 1 and "garbage.onnx" in s["errors"][0]' \
    's["model"]["name"] == "fashion_resnet.onnx"' \
    's["outputs"]["match"] is True' \
    || fail=1

rc=0
env -u DISPLAY -u WAYLAND_DISPLAY "$RMVK" gui --frames 1 >"$TMP/nodisplay.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail_with "no display: non-zero exit"
grep -qi "display" "$TMP/nodisplay.log" || fail_with "no display: the message says so ($(cat "$TMP/nodisplay.log"))"

[ "$fail" -eq 0 ] && echo "gui_corrupt_test: OK"
exit $fail
