#!/bin/bash
# Times `rmvk convert` on ResNet-50 and ResNet-152 (torchvision architectures, random weights).
# Usage: bash tests/bench/convert_speed.sh RMVK_BINARY [WORK_DIR]
# With Debian's python3-torch the models are exported to ONNX first (so loading a ~100 MB /
# ~240 MB file is part of the time); without it the built-in builder makes them in memory.
set -eu
RMVK=${1:?usage: convert_speed.sh RMVK_BINARY [WORK_DIR]}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

export_model() {  # export_model NAME: prints the model spec to convert
    local name=$1 file="$WORK/$1.onnx"
    if [ ! -s "$file" ] && /usr/bin/python3 -c "import torchvision" 2>/dev/null; then
        /usr/bin/python3 - "$name" "$file" >&2 <<'PY'
import sys, torch, torchvision
name, path = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = getattr(torchvision.models, name)().eval()
torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, opset_version=13,
                  input_names=["input"], output_names=["logits"])
PY
    fi
    if [ -s "$file" ]; then echo "$file"; else echo "builtin:$name"; fi
}

for name in resnet50 resnet152; do
    spec=$(export_model "$name")
    echo "== $name ($spec)"
    start=$(date +%s.%N)
    "$RMVK" convert "$spec" -o "$WORK/${name}_plain.onnx"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v n="$name" 'BEGIN { printf "%s: convert wall time %.2f s\n", n, e - s }'
    rm -f "$WORK/${name}_plain.onnx" "$WORK/${name}_plain.onnx.data"
done
