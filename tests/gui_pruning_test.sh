#!/bin/bash
# The Pruning view: a sweep of the small sparse fixture runs on its own thread while the window
# keeps drawing, both curves are plotted (amber plain, blue residual points), and choosing a
# plain-pruned point opens that model in the plain pane, its boxes saying channels before ->
# after and its feature maps which channels survived.
# Usage: bash gui_pruning_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"
MODEL="$SRC/tests/fixtures/sparse_tiny.onnx"

run_gui "$MODEL" --device cpu --sweep --sweep-images 100 --sweep-points 3 --prune-open plain:1 \
    --tab pruning --screenshot "$TMP/shot.png" --dump-state "$TMP/state.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0"
[ -s "$TMP/state.json" ] || { echo "FAIL: no state dump"; exit 1; }
$PY "$SRC/tests/gui_check.py" "$TMP/state.json" \
    's["errors"] == []' \
    's["active_tab"] == "Pruning"' \
    's["sweep"]["busy"] is False' \
    's["sweep"]["plain_points"] == 3 and s["sweep"]["residual_points"] == 3' \
    's["sweep"]["frames_while_sweeping"] >= 5' \
    's["pruned"]["mode"] == "plain" and s["pruned"]["threshold"] > 0' \
    's["pruned"]["narrowed_layers"] >= 5' \
    's["outputs"]["approximate"] is True' \
    's["outputs"]["top1_agrees"] == (s["outputs"]["residual_top5"][0]["class"] == s["outputs"]["plain_top5"][0]["class"])' \
    || fail=1

# Both curves are drawn in the plot area (right half, below the tabs).
amber=$(colour_fraction "$TMP/shot.png" "740x620+850+360" "rgb(236,178,46)")
at_least "$amber" 0.0005 || fail_with "plain-pruned curve drawn in amber (share $amber)"
blue=$(colour_fraction "$TMP/shot.png" "740x620+850+360" "rgb(96,160,240)")
at_least "$blue" 0.0005 || fail_with "residual-pruned curve drawn in blue (share $blue)"

# The same point opened with the feature maps shown: the plain grid names the survivors.
run_gui "$MODEL" --device cpu --sweep --sweep-images 100 --sweep-points 3 --prune-open plain:0 \
    --tab features --dump-state "$TMP/features.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui (features) exits 0"
$PY "$SRC/tests/gui_check.py" "$TMP/features.json" \
    's["errors"] == []' \
    's["active_tab"] == "Feature maps"' \
    's["pruned"]["threshold"] == 0' \
    's["outputs"]["approximate"] is False and s["outputs"]["match"] is True' \
    's["feature_maps"]["plain"]["pruned"].startswith("pruned: ")' \
    's["feature_maps"]["plain"]["channels_total"] < 16' \
    || fail=1

# Bad script input is one clear line.
"$RMVK" gui "$MODEL" --prune-open plain:0 >"$TMP/bad.txt" 2>&1
[ $? -eq 2 ] || fail_with "--prune-open without --sweep exits 2"
grep -q "needs --sweep" "$TMP/bad.txt" || fail_with "--prune-open without --sweep says why"

[ "$fail" -eq 0 ] && echo "gui_pruning_test: OK"
exit $fail
