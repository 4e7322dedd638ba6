#!/bin/bash
# Per-dispatch device times of the conv plans for ResNet's 3x3 layer shapes and some narrow
# ones on lavapipe (2 threads): the direct kernel and every Winograd variant, interleaved, best
# of ROUNDS, each with its work in the planner's cost-model units (ns per multiply-add slot, per
# transformed element) and the model's estimate. The cost model's constants in
# app/engine/conv_plan.cpp were fitted to this output. Builds the conv_stages tool; not a ctest.
# Usage: bash tests/bench/winograd_layers.sh BUILD_DIR [ROUNDS]
set -euo pipefail
BUILD=$1
ROUNDS=${2:-10}
export LP_NUM_THREADS=2
LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
[ -f "$LVP_ICD" ] && export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$LVP_ICD}
cmake --build "$BUILD" --target conv_stages >/dev/null
# C HW BATCH OC: ResNet-18/50's stride-1 3x3 convs at 224x224, batch 1 and 8, then narrow layers.
for shape in "64 56 1 64" "128 28 1 128" "256 14 1 256" "512 7 1 512" \
    "64 56 8 64" "512 7 8 512" "16 56 1 16" "32 56 1 32" "32 28 1 64" "64 7 1 64"; do
    # shellcheck disable=SC2086
    "$BUILD/tests/conv_stages" $shape "$ROUNDS" direct f4t f4c f2t f2c auto
done
