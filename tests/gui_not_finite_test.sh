#!/bin/bash
# A model with one NaN in fc.weight in the desktop app: the badge turns to the distinct red
# OUTPUTS NOT FINITE state naming the first node whose output holds the NaN (the Gemm), the
# state dump says "not finite" (never "match"), and the warnings list names the initializer.
# Usage: bash gui_not_finite_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

# The bundled model with fc.weight[0][3] = NaN (python3-onnx).
$PY - "$SRC/assets/fashion_resnet.onnx" "$TMP/nan_fc.onnx" <<'PYEOF' || { echo "FAIL: could not make the NaN model"; exit 1; }
import sys
import numpy as np
import onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
gemm = next(n for n in m.graph.node if n.op_type == "Gemm")
init = next(i for i in m.graph.initializer if i.name == gemm.input[1])
w = numpy_helper.to_array(init).copy()
w.flat[3] = np.nan
init.CopyFrom(numpy_helper.from_array(w, init.name))
onnx.save(m, sys.argv[2])
print(gemm.name, init.name)
PYEOF

run_gui "$TMP/nan_fc.onnx" --device cpu --screenshot "$TMP/shot.png" --dump-state "$TMP/state.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui exits 0 on a NaN model"
[ -s "$TMP/state.json" ] || { echo "FAIL: no state dump"; exit 1; }
$PY "$SRC/tests/gui_check.py" "$TMP/state.json" \
    's["errors"] == []' \
    's["outputs"]["match"] is False' \
    's["outputs"]["verdict"] == "not finite"' \
    's["outputs"]["residual_non_finite"] == 1 and s["outputs"]["plain_non_finite"] == 1' \
    's["outputs"]["first_non_finite"]["residual"] == "/fc/Gemm"' \
    's["outputs"]["first_non_finite"]["plain"] == "/fc/Gemm"' \
    'any("fc.weight" in w and "holds 1 NaN/Inf value" in w for w in s["warnings"])' \
    || fail=1
grep -q "rmvk gui: warning: .*fc.weight" "$TMP/gui.log" || fail_with "the warning is on stderr too"

# The badge (at 1600x1000, x 846-1011, y 56-76): a bright red fill rgb(204,20,20)
# (theme::kNotFinite * 0.8) where a finite model gets the green OUTPUTS MATCH one (share 0).
red=$(colour_fraction "$TMP/shot.png" "150x14+852+59" "rgb(204,20,20)")
at_least "$red" 0.6 || fail_with "red NOT FINITE badge in the screenshot (share $red)"

[ "$fail" -eq 0 ] && echo "gui_not_finite_test: OK"
exit $fail
