#!/bin/bash
# Regenerates the README's "How RM works, in rmvk" screenshots (run from the repository root
# after building; needs xvfb-run). Usage: bash assets/screenshots/explain_screenshots.sh [RMVK]
set -eu
RMVK=${1:-build/app/rmvk}
OUT=assets/screenshots
export XDG_RUNTIME_DIR=$(mktemp -d)
shot() {  # shot NAME ARGS...
    local name=$1
    shift
    xvfb-run -a -s "-screen 0 1600x1000x24" "$RMVK" gui --device cpu --width 1600 --height 1000 \
        --tab explain "$@" --screenshot "$OUT/$name.png"
}
shot explain_1_original --select /layer2/layer2.0/conv1/Conv --step 1
shot explain_3_reserve --select /layer2/layer2.0/conv1/Conv --step 3
shot explain_4_merge --select /layer2/layer2.0/conv1/Conv --step 4 --conv 2
shot explain_bottleneck 'builtin:resnet50?size=64x64&classes=10' --select layer3.0.conv1 --step 4 --conv 2
