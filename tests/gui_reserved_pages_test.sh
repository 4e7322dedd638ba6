#!/bin/bash
# Wide layers: in ResNet-50's layer3 the plain conv carries 1024 reserved channels next to its
# 256 original ones. Whatever channel page is shown, the reserved channels must be on screen,
# apart from the originals and labelled (which of them, and which block input they copy);
# the original channels stay aligned with the residual grid's.
# Usage: bash gui_reserved_pages_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

MODEL='builtin:resnet50?size=64x64&classes=10'
for page in 3 10; do
    run_gui "$MODEL" --device cpu --select layer3.1.conv1 --page $page --screenshot "$TMP/p$page.png" \
        --dump-state "$TMP/p$page.json"
    [ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 on page $page"
    [ -s "$TMP/p$page.json" ] || { echo "FAIL: no state dump for page $page"; exit 1; }
    # The plain grid's column (x 1090-1340): amber frames mark the reserved tiles.
    amber=$(colour_fraction "$TMP/p$page.png" "250x600+1090+380" "rgb(236,178,46)")
    at_least "$amber" 0.005 || fail_with "reserved tiles are framed in amber on page $page (share $amber)"
done
$PY "$SRC/tests/gui_check.py" "$TMP/p3.json" \
    's["errors"] == []' \
    's["feature_maps"]["page"] == 3 and s["feature_maps"]["pages"] == 16' \
    's["feature_maps"]["residual"]["channels_total"] == 256 and s["feature_maps"]["plain"]["channels_total"] == 1280' \
    's["feature_maps"]["residual"]["channels_shown"] == 64' \
    's["feature_maps"]["plain"]["reserved_total"] == 1024' \
    's["feature_maps"]["plain"]["reserved_shown"] == 64 and s["feature_maps"]["plain"]["reserved_first"] == 128' \
    's["feature_maps"]["plain"]["channels_shown"] == 128' \
    's["feature_maps"]["plain"]["reserved_source"] != ""' \
    'max(abs(s["feature_maps"]["difference"]["min"]), abs(s["feature_maps"]["difference"]["max"])) < 1e-3' \
    || fail=1
# Past the original channels' last page the reserved ones still page on.
$PY "$SRC/tests/gui_check.py" "$TMP/p10.json" \
    's["feature_maps"]["page"] == 10' \
    's["feature_maps"]["residual"]["channels_shown"] == 0' \
    's["feature_maps"]["plain"]["reserved_shown"] == 64 and s["feature_maps"]["plain"]["reserved_first"] == 576' \
    || fail=1

[ "$fail" -eq 0 ] && echo "gui_reserved_pages_test: OK"
exit $fail
