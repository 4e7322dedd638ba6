#!/bin/bash
# fps of the Explain tab while it steps through RM's four steps once per frame, on ResNet-152
# (the weights are full size; the 64x64 input only keeps the runs of both graphs short), under
# Xvfb at 1600x1000, and standing still on the Feature maps tab for comparison on the same load.
# Usage: bash tests/bench/explain_fps.sh [RMVK] [BLOCK_NODE ...]
set -u
RMVK=${1:-build/app/rmvk}
shift || true
NODES=${*:-layer3.5.conv1 layer4.1.conv1}
MODEL='builtin:resnet152?size=64x64&classes=10'
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR="$TMP"
measure() {  # measure LABEL ARGS...
    local label=$1
    shift
    xvfb-run -a -s "-screen 0 1600x1000x24" "$RMVK" gui "$MODEL" --device cpu --frames 200 \
        "$@" --dump-state "$TMP/s.json" >"$TMP/log" 2>&1 || { cat "$TMP/log"; return 1; }
    /usr/bin/python3 -c "
import json; s = json.load(open('$TMP/s.json'))
c = s['frame_costs_ms']
print('%-40s %6.1f fps  ui %.2f ms  present %.1f ms  redrawn %.0f%%' % ('$label', s['fps'], s['ui_ms'], c['present'], 100 * s['redrawn_share']))"
}
uptime
for node in $NODES; do
    measure "explain, stepping, $node" --tab explain --select "$node" --step-cycle
done
measure "feature maps, standing still" --tab features --select layer3.5.conv1
