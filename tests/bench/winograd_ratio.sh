#!/bin/bash
# Residual ResNet-18 / ResNet-50 at 224x224, batch 1, on lavapipe (2 threads): device time with
# Winograd as the planner chooses it, over the time without it (RMVK_WINOGRAD=0). The two runs
# alternate ROUNDS times so that a busy machine slows both alike; printed: each round's ratio,
# and the ratio of the best times. Builds nothing; not a ctest.
# Usage: bash tests/bench/winograd_ratio.sh RMVK_BINARY [ROUNDS] [ITERS]
#   env MODELS="resnet18 resnet50" (default) narrows a run.
set -euo pipefail
RMVK=$1
ROUNDS=${2:-3}
ITERS=${3:-5}
export LP_NUM_THREADS=2
LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
[ -f "$LVP_ICD" ] && export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$LVP_ICD}

device_ms() {  # MODEL off|auto: the median device total of ITERS runs
    local setting=(-u RMVK_WINOGRAD)
    [ "$2" = off ] && setting=(RMVK_WINOGRAD=0)
    env "${setting[@]}" "$RMVK" bench "builtin:$1" --input-size 224x224 --batch 1 --graph residual \
        --warmup 1 --iters "$ITERS" --no-peak | awk '/^device total ms/ {print $4}'
}

for model in ${MODELS:-resnet18 resnet50}; do
    best_off=""
    best_on=""
    ratios=()
    for round in $(seq "$ROUNDS"); do
        off=$(device_ms "$model" off)
        on=$(device_ms "$model" auto)
        best_off=$(awk -v a="$off" -v b="${best_off:-$off}" 'BEGIN {print (a < b) ? a : b}')
        best_on=$(awk -v a="$on" -v b="${best_on:-$on}" 'BEGIN {print (a < b) ? a : b}')
        ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN {print a / b}')")
        awk -v m="$model" -v r="$round" -v a="$on" -v b="$off" \
            'BEGIN {printf "%s round %d: winograd %.1f ms, without %.1f ms, ratio %.3f\n", m, r, a, b, a / b}'
    done
    awk -v m="$model" -v a="$best_on" -v b="$best_off" \
        'BEGIN {printf "%s best of each: winograd %.1f ms, without %.1f ms, ratio %.3f\n", m, a, b, a / b}'
    printf '%s\n' "${ratios[@]}" | sort -g |
        awk -v m="$model" '{r[NR] = $1} END {printf "%s median of the round ratios: %.3f\n", m, (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}'
done
