#!/bin/bash
# rmvk on Mesa lavapipe with 2 threads, next to the reference Vulkan engine (fp32) figures
# measured on the same lavapipe and PyTorch CPU measured in this run. Builds nothing; not a ctest.
# Usage: bash tests/bench/bench_lavapipe.sh RMVK_BINARY [OUT_DIR] [ITERS]
#   env MODELS="resnet18 resnet50" (default) and GRAPH=both|residual|plain (default both) narrow a run.
# Needs Debian's /usr/bin/python3 with python3-torch and python3-torchvision for the PyTorch column.
set -euo pipefail
RMVK=$1
OUT=${2:-$(mktemp -d)}
ITERS=${3:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
export LP_NUM_THREADS=2
# lavapipe only, even on a machine with a GPU.
LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
[ -f "$LVP_ICD" ] && export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$LVP_ICD}

echo "== rmvk bench --peak (LP_NUM_THREADS=2)"
"$RMVK" bench --peak | tee "$OUT/peak.txt"

reports=()
for model in ${MODELS:-resnet18 resnet50}; do
    echo "== rmvk bench builtin:$model 224x224 batch 1, graph ${GRAPH:-both}"
    "$RMVK" bench "builtin:$model" --input-size 224x224 --batch 1 --graph "${GRAPH:-both}" --warmup 1 --iters "$ITERS" \
        --json "$OUT/$model.json" --csv "$OUT/$model.csv" >"$OUT/$model.txt"
    sed -n '/^summary/,$p' "$OUT/$model.txt"
    reports+=("$OUT/$model.json")
done

echo "== PyTorch CPU (torch.set_num_threads(2), torchvision eval, median of $ITERS)"
/usr/bin/python3 "$HERE/bench_torch.py" time --threads 2 --iters "$ITERS" ${MODELS:-resnet18 resnet50} | tee "$OUT/torch.jsonl"

/usr/bin/python3 "$HERE/bench_torch.py" compare "$OUT/peak.txt" "$OUT/torch.jsonl" "${reports[@]}" | tee "$OUT/summary.txt"
echo "reports in $OUT"
