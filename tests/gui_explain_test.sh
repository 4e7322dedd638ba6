#!/bin/bash
# The Explain tab: for a BasicBlock (bundled model) and a Bottleneck with projection (ResNet-50),
# the weights of the plain convs are drawn with their parts outlined. The state dump's parts must
# be what RM did: the Dirac rows are the NodeMapping's reserved ranges, the projection merge
# holds the shortcut's folded 1x1 weights, every part's values recomputed from the residual graph
# (max_abs_vs_source 0); the worked pixel's residual and plain values agree; the screenshot shows
# the outlines in their colours.
# Usage: bash gui_explain_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

# The weight picture, left of the legend: x 845-1355, y 495-795 at 1600x1000.
GRID="510x300+845+495"
AMBER="rgb(236,178,46)"
MAGENTA="rgb(220,70,220)"
CYAN="rgb(40,190,235)"
GREEN="rgb(60,200,90)"
GREY="rgb(140,140,150)"
outline() {  # outline PNG COLOUR NAME
    local share
    share=$(colour_fraction "$1" "$GRID" "$2")
    at_least "$share" 0.002 || fail_with "$3 outlined in the weight picture of $(basename "$1") (share $share)"
}

# Every part of every conv of the step holds what it says.
EXACT='all(p["max_abs_vs_source"] == 0 for c in s["explain"]["convs"] for p in c["parts"])'
# The Dirac rows of each plain conv are the NodeMapping's reserved output channels.
DIRAC_IS_MAPPING='all([p["out"] for p in c["parts"] if p["kind"] == "reserved Dirac copy"] == [r["range"] for r in c["mapping"] if r["reserved"]] for c in s["explain"]["convs"] if c["plain"])'
PIXEL_AGREES='s["explain"]["pixel"]["agree"] and abs(s["explain"]["pixel"]["residual"] - s["explain"]["pixel"]["plain"]) <= 1e-4 * s["explain"]["pixel"]["max_abs_ref"]'

# 1. The bundled model's layer2.0: BasicBlock, projection shortcut. conv1' is drawn first.
run_gui --device cpu --tab explain --select /layer2/layer2.0/conv1/Conv --step 4 --hover 20,3 \
    --screenshot "$TMP/b1.png" --dump-state "$TMP/b1.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (bundled, conv1')"
$PY "$SRC/tests/gui_check.py" "$TMP/b1.json" \
    's["errors"] == []' \
    's["active_tab"] == "Explain"' \
    's["explain"]["block"] == "layer2.0" and s["explain"]["kind"] == "basic" and s["explain"]["projection"]' \
    's["explain"]["step"] == 4 and len(s["explain"]["costs"]) == 4 and s["explain"]["in_channels"] == 16' \
    's["explain"]["convs"][0]["drawn"] and s["explain"]["convs"][0]["shape"] == [48, 16, 3, 3]' \
    '[p["kind"] for p in s["explain"]["convs"][0]["parts"]] == ["original (folded)", "reserved Dirac copy"]' \
    "$DIRAC_IS_MAPPING" "$EXACT" "$PIXEL_AGREES" \
    's["explain"]["pixel"]["residual"] > 0' \
    '"original (folded): residual weight layer2.0.conv1.weight[4, 3]" in s["explain"]["hover"]' \
    's["explain"]["costs"][3]["macs"] > s["explain"]["costs"][1]["macs"] == s["explain"]["costs"][0]["macs"]' \
    || fail=1
outline "$TMP/b1.png" "$AMBER" "the reserved Dirac copy"
outline "$TMP/b1.png" "$CYAN" "the original (folded) block"

# 2. Its conv2': the projection merge is the folded 1x1 shortcut, at a worked pixel we pick.
run_gui --device cpu --tab explain --select /layer2/layer2.0/conv1/Conv --step 4 --conv 2 \
    --pixel 3,4,5 --hover 5,3 --screenshot "$TMP/b2.png" --dump-state "$TMP/b2.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (bundled, conv2')"
$PY "$SRC/tests/gui_check.py" "$TMP/b2.json" \
    's["explain"]["convs"][1]["drawn"] and s["explain"]["conv"] == 1' \
    '[(p["out"], p["in"]) for p in s["explain"]["convs"][1]["parts"] if p["kind"] == "projection merge (scaled)"] == [([0, 32], [0, 16])]' \
    '[p["source_bn"] for p in s["explain"]["convs"][1]["parts"] if p["kind"] == "projection merge (scaled)"] == ["/layer2/layer2.0/downsample/downsample.1/BatchNormalization"]' \
    'len(s["explain"]["convs"][1]["parts"][0]["centre_values"]) == 32 * 16 and max(abs(v) for v in s["explain"]["convs"][1]["parts"][0]["centre_values"]) > 0' \
    "$EXACT" "$PIXEL_AGREES" \
    '(s["explain"]["pixel"]["channel"], s["explain"]["pixel"]["y"], s["explain"]["pixel"]["x"]) == (3, 4, 5)' \
    '"projection shortcut layer2.0.downsample.0.weight[5, 3]" in s["explain"]["hover"]' \
    '"%.4f" % s["explain"]["convs"][1]["parts"][0]["centre_values"][5 * 16 + 3] in s["explain"]["hover"].split("\n")[3]' \
    || fail=1
outline "$TMP/b2.png" "$MAGENTA" "the projection merge"
outline "$TMP/b2.png" "$CYAN" "the original (folded) block"

# 3. layer1.0 has an identity shortcut: conv2' merges it with Dirac columns; twice the MACs.
run_gui --device cpu --tab explain --select /layer1/layer1.0/conv2/Conv --step 4 --conv 2 \
    --hover 2,2 --screenshot "$TMP/b3.png" --dump-state "$TMP/b3.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (bundled, identity)"
$PY "$SRC/tests/gui_check.py" "$TMP/b3.json" \
    's["explain"]["block"] == "layer1.0" and not s["explain"]["projection"]' \
    '[(p["out"], p["in"]) for p in s["explain"]["convs"][1]["parts"] if p["kind"] == "identity merge"] == [([0, 16], [0, 16])]' \
    's["explain"]["costs"][3]["macs"] == 2 * s["explain"]["costs"][1]["macs"]' \
    '"Dirac: adds reserved channel 2" in s["explain"]["hover"]' \
    'sum(s["explain"]["histogram"]["plain"]) == 16 * 32 * 9 and sum(s["explain"]["histogram"]["original"]) == 16 * 16 * 9' \
    's["explain"]["histogram"]["plain"][-1] == 16 and s["explain"]["histogram"]["plain_zeros"] >= 16 * 16 * 9 - 16' \
    "$EXACT" "$DIRAC_IS_MAPPING" "$PIXEL_AGREES" \
    || fail=1
outline "$TMP/b3.png" "$GREEN" "the identity merge"

# 4. ResNet-50 layer3.0: Bottleneck with projection; its 768x768 3x3 conv2' is drawn from a
#    summary, and the view is exported as PNG.
MODEL='builtin:resnet50?size=64x64&classes=10'
run_gui "$MODEL" --device cpu --tab explain --select layer3.0.conv1 --step 4 --conv 2 \
    --screenshot "$TMP/r.png" --dump-state "$TMP/r.json" --export-explain "$TMP/export.png"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (resnet50)"
$PY "$SRC/tests/gui_check.py" "$TMP/r.json" \
    's["errors"] == []' \
    's["explain"]["block"] == "layer3.0" and s["explain"]["kind"] == "bottleneck" and s["explain"]["projection"]' \
    's["explain"]["in_channels"] == 512 and len(s["explain"]["convs"]) == 3' \
    's["explain"]["convs"][1]["drawn"] and s["explain"]["convs"][1]["shape"] == [768, 768, 3, 3]' \
    's["explain"]["summary"] and s["explain"]["cells_per_texel"] == 3 and s["explain"]["texture"] == [256, 256]' \
    'sorted((p["out"], p["in"]) for p in s["explain"]["convs"][1]["parts"] if p["kind"] == "zero") == [([0, 512], [512, 768]), ([512, 768], [0, 512])]' \
    '[(p["out"], p["in"], p["source_conv"]) for p in s["explain"]["convs"][2]["parts"] if p["kind"] == "projection merge (scaled)"] == [([0, 1024], [0, 512], "layer3.0.downsample.0")]' \
    "$DIRAC_IS_MAPPING" "$EXACT" "$PIXEL_AGREES" \
    's["explain"]["exported"] != ""' \
    || fail=1
outline "$TMP/r.png" "$AMBER" "the reserved Dirac copy (ResNet-50)"
outline "$TMP/r.png" "$GREY" "the zero blocks (ResNet-50)"
[ -s "$TMP/export.png" ] || fail_with "--export-explain wrote a PNG"
amber=$(colour_fraction "$TMP/export.png" "100%x100%+0+0" "$AMBER")
at_least "$amber" 0.001 || fail_with "the exported PNG has the outlines burnt in (amber share $amber)"

# Zoomed in, the summary gives way to a picture of the visible cells at every tap.
run_gui "$MODEL" --device cpu --tab explain --select layer3.0.conv1 --step 4 --conv 2 --zoom 8 \
    --screenshot "$TMP/z.png" --dump-state "$TMP/z.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (resnet50, zoomed)"
$PY "$SRC/tests/gui_check.py" "$TMP/z.json" 's["explain"]["summary"] and s["explain"]["detail"]' || fail=1
# The centre of the 768x768 weight is inside the reserved block: its Dirac taps are red dots.
red=$(colour_fraction "$TMP/z.png" "$GRID" "rgb(181,5,38)")
at_least "$red" 0.0005 || fail_with "the zoomed picture shows the Dirac taps (red share $red)"

# The arrow keys step through the steps: from 1, right three times and left once is step 3.
run_gui --device cpu --tab explain --select /layer2/layer2.0/conv1/Conv --step 1 \
    --keys right,right,right,left --pixel 99,0,0 --dump-state "$TMP/keys.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (arrow keys)"
# A worked pixel outside the block output is one line in the panel, not a crash.
$PY "$SRC/tests/gui_check.py" "$TMP/keys.json" 's["explain"]["step"] == 3' \
    's["explain"]["pixel"] is None and "outside the block output [1, 32, 14, 14]" in s["explain"]["pixel_error"]' \
    || fail=1

# Stepping redraws only what changed, and what it redraws is what a whole redraw gives.
run_gui --device cpu --tab explain --select /layer2/layer2.0/conv1/Conv --step-cycle --frames 13 \
    --check-redraw --dump-state "$TMP/redraw.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (check redraw)"
$PY "$SRC/tests/gui_check.py" "$TMP/redraw.json" 's["redraw_mismatch"] == 0' || fail=1

# 5. A reserved channel clicked in the feature maps opens the Dirac row that made it.
run_gui --device cpu --tab features --select /layer2/layer2.0/conv1/Conv --click-reserved 3 \
    --dump-state "$TMP/link.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 (reserved channel link)"
$PY "$SRC/tests/gui_check.py" "$TMP/link.json" \
    's["active_tab"] == "Explain" and s["explain"]["step"] == 4' \
    '[c["node"] for c in s["explain"]["convs"] if c["drawn"]] == ["/layer2/layer2.0/conv1/Conv.rm"]' \
    's["explain"]["highlight_row"] == 2' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_explain_test: OK"
exit $fail
