#!/bin/bash
# The window is redrawn only where it changed (software rasterisers pay per pixel): while a
# graph pane is dragged frame after frame, the partly redrawn picture must equal a whole redraw
# of the same frame pixel for pixel, and only part of the window may be redrawn per frame.
# Usage: bash gui_redraw_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

MODEL='builtin:resnet18?size=64x64&width=16&classes=10'
run_gui "$MODEL" --device cpu --frames 30 --pan 7 --check-redraw --dump-state "$TMP/pan.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 while panning"
$PY "$SRC/tests/gui_check.py" "$TMP/pan.json" \
    's["errors"] == []' \
    's["frames"] == 30' \
    's["redraw_mismatch"] == 0' \
    '0.02 < s["redrawn_share"] < 0.6' \
    's["graphs"]["residual"]["drawn"] > 0' \
    's["fps"] > 0' \
    || fail=1

# Standing still: almost nothing is redrawn, and what is kept is still right.
run_gui "$MODEL" --device cpu --frames 20 --tab timing --check-redraw --dump-state "$TMP/still.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 standing still"
$PY "$SRC/tests/gui_check.py" "$TMP/still.json" \
    's["redraw_mismatch"] == 0' \
    's["redrawn_share"] < 0.2' \
    's["active_tab"] == "Timing"' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_redraw_test: OK"
exit $fail
