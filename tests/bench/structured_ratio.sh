#!/bin/bash
# Plain (RM-converted) ResNet-18 / ResNet-50 at 224x224, batch 1, on lavapipe (2 threads): device
# time of the plain graph run structured (dense blocks plus copy passes, the default) and dense
# (the exported ONNX's weights), each over the residual graph's, all three from one `rmvk bench`
# run per model. Builds nothing; not a ctest.
# Usage: bash tests/bench/structured_ratio.sh RMVK_BINARY [ITERS]
#   env MODELS="resnet18 resnet50" (default) narrows a run.
set -euo pipefail
RMVK=$1
ITERS=${2:-5}
export LP_NUM_THREADS=2
LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
[ -f "$LVP_ICD" ] && export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$LVP_ICD}

for model in ${MODELS:-resnet18 resnet50}; do
    out=$("$RMVK" bench "builtin:$model" --input-size 224x224 --batch 1 --graph both \
        --plain-exec both --warmup 1 --iters "$ITERS" --no-peak)
    # "device total ms   RES   PLAIN   DENSE   PLAIN/RES   DENSE/RES"
    awk -v m="$model" '/^device total ms/ {
        printf "%s: residual %.1f ms, plain structured %.1f ms, plain dense %.1f ms; " \
               "structured/residual %.3f, dense/residual %.3f\n", m, $4, $5, $6, $5 / $4, $6 / $4
    }' <<<"$out"
done
