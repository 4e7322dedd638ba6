#!/bin/bash
# --select a conv inside a residual block: the app must select the plain node RM made from it,
# show feature maps of both graphs, and the plain node's original channels must reproduce the
# residual tensor they stand for (the difference grid is ~0), while reserved channels are shown apart.
# Usage: bash gui_select_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

# A builtin model has torchvision's node names; the CPU reference keeps this test fast on 2 cores.
MODEL='builtin:resnet18?size=64x64&width=16&classes=10'
run_gui "$MODEL" --device cpu --select layer2.0.conv1 --screenshot "$TMP/shot.png" --dump-state "$TMP/state.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0"
[ -s "$TMP/state.json" ] || { echo "FAIL: no state dump"; exit 1; }

$PY "$SRC/tests/gui_check.py" "$TMP/state.json" \
    's["errors"] == []' \
    's["selection"]["residual_primary"] == "layer2.0.conv1"' \
    's["selection"]["residual"] == ["layer2.0.conv1"]' \
    'len(s["selection"]["plain"]) >= 1 and s["selection"]["plain_primary"] in s["selection"]["plain"]' \
    's["selection"]["plain_primary"] != "layer2.0.conv1"' \
    's["feature_maps"]["residual"]["node"] == "layer2.0.conv1"' \
    's["feature_maps"]["residual"]["shape"] == [1, 32, 8, 8]' \
    's["feature_maps"]["plain"]["node"] == s["selection"]["plain_primary"]' \
    's["feature_maps"]["residual"]["non_blank"] and s["feature_maps"]["plain"]["non_blank"]' \
    's["feature_maps"]["plain"]["channels_total"] > s["feature_maps"]["residual"]["channels_total"]' \
    's["feature_maps"]["plain"]["reserved_shown"] > 0' \
    's["feature_maps"]["plain"]["reserved_source"] != ""' \
    's["feature_maps"]["difference"]["channels_shown"] > 0' \
    'max(abs(s["feature_maps"]["difference"]["min"]), abs(s["feature_maps"]["difference"]["max"])) < 1e-3' \
    's["outputs"]["match"] is True' \
    || fail=1

# The reserved channels are framed in amber in the plain grid (x 1060-1330, y 390-980).
amber=$(colour_fraction "$TMP/shot.png" "270x590+1060+390" "rgb(236,178,46)")
at_least "$amber" 0.001 || fail_with "reserved channels are marked in the plain feature-map grid (amber share $amber)"

[ "$fail" -eq 0 ] && echo "gui_select_test: OK"
exit $fail
