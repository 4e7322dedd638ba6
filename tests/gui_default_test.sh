#!/bin/bash
# The desktop app on the bundled model and sample image under Xvfb (lavapipe): the screenshot
# must show both graph panes with operator-coloured nodes and real feature maps, and the state
# the app reports must say that the residual and plain graphs give the same answer.
# Usage: bash gui_default_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

run_gui --screenshot "$TMP/shot.png" --dump-state "$TMP/state.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0"
[ -s "$TMP/shot.png" ] || { echo "FAIL: no screenshot"; exit 1; }
[ -s "$TMP/state.json" ] || { echo "FAIL: no state dump"; exit 1; }

size=$(identify -format "%wx%h" "$TMP/shot.png")
[ "$size" = "1600x1000" ] || fail_with "screenshot is 1600x1000 (got $size)"

# Panes (at 1600x1000): residual x 10-410, plain x 420-820, graphs y 100-650; feature maps x 850-1590, y 390-980.
for pane in "330x520+40+110 residual" "330x520+450+110 plain"; do
    set -- $pane
    conv=$(colour_fraction "$TMP/shot.png" "$1" "rgb(46,94,168)")
    relu=$(colour_fraction "$TMP/shot.png" "$1" "rgb(44,128,84)")
    at_least "$conv" 0.01 || fail_with "$2 pane shows Conv nodes (blue share $conv)"
    at_least "$relu" 0.005 || fail_with "$2 pane shows Relu nodes (green share $relu)"
done
sd=$(region_stat "$TMP/shot.png" "700x500+870+400" standard_deviation)
colours=$(convert "$TMP/shot.png" -crop "700x500+870+400" +repage -format "%k" info:)
at_least "$sd" 0.05 || fail_with "feature-map area is not one colour (std dev $sd)"
at_least "$colours" 200 || fail_with "feature-map area has many colours (got $colours)"

# The app's peak resident size for the bundled model; under AddressSanitizer (tests/sanitize.sh)
# shadow memory and the free quarantine make the process several times larger, so the bound only
# guards against runaway growth there.
MEM_LIMIT=1.5e9
[ -n "${ASAN_OPTIONS:-}" ] && MEM_LIMIT=8e9

$PY "$SRC/tests/gui_check.py" "$TMP/state.json" \
    's["errors"] == []' \
    's["busy"] is False' \
    's["model"]["spec"] == "" and s["model"]["name"] == "fashion_resnet.onnx"' \
    's["model"]["blocks_converted"] > 0' \
    's["image"].endswith(".png") and "/samples/" in s["image"]' \
    's["outputs"]["match"] is True' \
    's["outputs"]["max_abs_diff"] <= s["outputs"]["tolerance"]' \
    'len(s["outputs"]["residual_top5"]) == 5' \
    '[c["class"] for c in s["outputs"]["residual_top5"]] == [c["class"] for c in s["outputs"]["plain_top5"]]' \
    'not s["outputs"]["residual_top5"][0]["label"].startswith("class ")' \
    's["outputs"]["verdict"] == "match"' \
    's["precision"] == "fp32" and s["outputs"]["relative_tolerance"] == 1e-4' \
    'all(0 <= c["probability"] <= 1 for c in s["outputs"]["residual_top5"] + s["outputs"]["plain_top5"])' \
    '[c["probability"] for c in s["outputs"]["residual_top5"]] == sorted([c["probability"] for c in s["outputs"]["residual_top5"]], reverse=True)' \
    'sum(c["probability"] for c in s["outputs"]["residual_top5"]) <= 1.0001' \
    's["outputs"]["residual_top5"][0]["probability"] > 0.5' \
    'abs(s["outputs"]["residual_top5"][0]["probability"] - s["outputs"]["plain_top5"][0]["probability"]) < 1e-4' \
    's["graphs"]["residual"]["drawn"] > 0 and s["graphs"]["plain"]["drawn"] > 0' \
    's["graphs"]["residual"]["boxes"] > s["graphs"]["plain"]["boxes"]' \
    's["selection"]["residual_primary"] != "" and s["selection"]["plain_primary"] != ""' \
    's["feature_maps"]["residual"]["non_blank"] and s["feature_maps"]["plain"]["non_blank"]' \
    's["feature_maps"]["residual"]["channels_shown"] > 0 and s["feature_maps"]["plain"]["channels_shown"] > 0' \
    's["feature_maps"]["plain"]["reserved_shown"] > 0' \
    's["timings"]["residual"]["present"] and s["timings"]["plain"]["present"]' \
    's["timings"]["residual"]["total_ms"] > 0' \
    's["timings"]["plain_exec"] == "structured" and "plain_dense" not in s["timings"]' \
    's["timings"]["plain_dense_weight_bytes"] > 0' \
    'any(l[1].startswith("structured: ") for l in s["timings"]["plain_shown_layers"])' \
    's["memory"]["resident_bytes"] > 20e6 and s["memory"]["peak_resident_bytes"] >= s["memory"]["resident_bytes"]' \
    "s['memory']['peak_resident_bytes'] < $MEM_LIMIT" \
    's["last_job"]["seconds"] > 0 and any(st[0] == "comparing outputs" for st in s["last_job"]["stages"])' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_default_test: OK"
exit $fail
