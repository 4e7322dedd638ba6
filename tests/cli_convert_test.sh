#!/bin/bash
# End to end: `rmvk info` and `rmvk convert` on built-in and PyTorch-exported models.
# Usage: bash cli_convert_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
. "$(dirname "$0")/cli_lib.sh"

MODEL='builtin:resnet18?size=64x64&width=8&classes=10'

"$RMVK" info --help >"$TMP/h1" 2>&1
check "info --help exits 0" test $? -eq 0
check "info --help prints usage" grep -q "usage: rmvk info" "$TMP/h1"
"$RMVK" convert --help >"$TMP/h2" 2>&1
check "convert --help exits 0" test $? -eq 0
check "convert --help prints usage" grep -q "usage: rmvk convert" "$TMP/h2"

"$RMVK" info "$MODEL" >"$TMP/info.txt" 2>&1
check "info exits 0" test $? -eq 0
check "info finds 8 convertible blocks" grep -q "residual blocks: 8 found, 8 convertible" "$TMP/info.txt"
check "info lists layer2.0 as a projection block" grep -q "layer2.0 .*projection shortcut" "$TMP/info.txt"
check "info shows the logits shape" grep -q "logits .*\[1, 10\]" "$TMP/info.txt"

"$RMVK" info "$MODEL" --json --batch 2 >"$TMP/info.json" 2>&1
check "info --json exits 0" test $? -eq 0
check "info --json has 8 convertible blocks" test "$(grep -o '"convertible": true' "$TMP/info.json" | wc -l)" -eq 8
check "info --json uses the batch" python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["outputs"][0]["shape"] != [2, 10])' "$TMP/info.json"
check "info --json has totals" grep -q '"total_macs": [1-9]' "$TMP/info.json"
check "info --json is one object" test "$(head -c1 "$TMP/info.json")" = "{"

"$RMVK" convert "$MODEL" -o "$TMP/plain.onnx" >"$TMP/convert.txt" 2>&1
check "convert exits 0" test $? -eq 0
cat "$TMP/convert.txt"
check "convert converts all blocks" grep -q "converted 8 of 8 residual blocks" "$TMP/convert.txt"
check "convert writes the model" test -s "$TMP/plain.onnx"
diff=$(sed -n 's/.*residual vs plain: max|d| = \([^,]*\),.*/\1/p' "$TMP/convert.txt")
check "convert reports a tiny difference ($diff)" awk -v d="$diff" 'BEGIN { exit !(d != "" && d + 0 < 1e-4) }'

"$RMVK" info "$TMP/plain.onnx" >"$TMP/plain_info.txt" 2>&1
check "the plain model loads back" test $? -eq 0
check "the plain model has no residual blocks" grep -q "residual blocks: 0 found" "$TMP/plain_info.txt"
check "the plain model has no Add" test "$(grep -c ' Add ' "$TMP/plain_info.txt")" -eq 0

FIXTURE="$SRC/tests/fixtures/pytorch/bottleneck_kept_op9_initinputs_b2_32x32.onnx"
"$RMVK" convert "$FIXTURE" -o "$TMP/fixture_plain.onnx" --require-all --verify-size 40x24 >"$TMP/fx.txt" 2>&1
check "convert of a PyTorch export exits 0" test $? -eq 0
check "convert used the asked size" grep -q "verify at 40x24" "$TMP/fx.txt"

# The plain model is written at the input's opset and checked: ONNX's checker knows opsets up
# to 17, rmvk's structural checks cover 18 to 21.
for fx in basic_kept_op7_initinputs_b1_32x32:7:"ONNX's checker passed" \
          bottleneck_fused_op8_b2_33x47:8:"ONNX's checker passed" \
          basic_fused_op18_dynbatch_b2_33x47:18:"rmvk's structural checks passed" \
          resnext_fused_op21_b1_33x47:21:"rmvk's structural checks passed"; do
    IFS=: read -r name opset says <<<"$fx"
    "$RMVK" convert "$SRC/tests/fixtures/pytorch/$name.onnx" -o "$TMP/$name.plain.onnx" >"$TMP/$name.txt" 2>&1
    check "convert of the opset-$opset fixture exits 0" test $? -eq 0
    check "convert says which check passed at opset $opset" grep -q "^check: $says (opset $opset" "$TMP/$name.txt"
    "$RMVK" info "$TMP/$name.plain.onnx" --json >"$TMP/$name.info.json" 2>&1
    check "the opset-$opset plain model loads back" test $? -eq 0
    check "the plain model is at opset $opset" grep -q "\"opset\": $opset," "$TMP/$name.info.json"
done

# This ResNeXt's last block has 6 channels per group for a 64-channel input: its reserved copy
# is padded to whole groups.
RESNEXT="$SRC/tests/fixtures/pytorch/resnext_kept_op17_b1_33x47.onnx"
"$RMVK" info "$RESNEXT" >"$TMP/rxinfo.txt" 2>&1
check "info shows the padded reserve" grep -q "layer4.0 .*reserve padded by 2 channels" "$TMP/rxinfo.txt"
"$RMVK" convert "$RESNEXT" -o "$TMP/rx.onnx" >"$TMP/rx.txt" 2>&1
check "convert of the padded ResNeXt exits 0" test $? -eq 0
check "convert converts every ResNeXt block" grep -q "^converted 4 of 4 residual blocks" "$TMP/rx.txt"
# Its second block's grouped middle conv widens each group (4 -> 8 channels): refused.
REFUSED="$SRC/tests/fixtures/pytorch/rmfam_refused_op13_b1_16x16.onnx"
"$RMVK" convert "$REFUSED" -o "$TMP/rf.onnx" >"$TMP/rf.txt" 2>&1
check "convert keeps a refused block residual and exits 0" test $? -eq 0
check "convert names the refused block and why" grep -q "kept residual: .*Dirac groups need square groups" "$TMP/rf.txt"
"$RMVK" convert "$REFUSED" -o "$TMP/rf2.onnx" --require-all >"$TMP/rf2.txt" 2>&1
check "--require-all fails on a refused block" test $? -eq 1
check "--require-all says which block" grep -q "error: residual block '.*' cannot be converted" "$TMP/rf2.txt"
# An inverted-residual net: linear 1x1 fusion on by default, MACs before and after.
MOBILE="$SRC/tests/fixtures/pytorch/rmfam_invres_relu6_op13_b2_20x28.onnx"
"$RMVK" convert "$MOBILE" -o "$TMP/mb.onnx" >"$TMP/mb.txt" 2>&1
check "convert of inverted residuals exits 0" test $? -eq 0
# By default only pairs whose composed conv costs no more: here each would cost more.
check "convert tries linear 1x1 fusion by default there" grep -q "^linear 1x1 fusion: 0 pairs composed, .* GMACs" "$TMP/mb.txt"
check "and says which pairs it left apart and why" grep -q "^linear 1x1 fusion: 3 pairs left apart (composed, each would cost more multiply-adds" "$TMP/mb.txt"
"$RMVK" convert "$MOBILE" -o "$TMP/mb3.onnx" --fuse-linear-all >"$TMP/mb3.txt" 2>&1
check "--fuse-linear-all composes every pair" grep -q "^linear 1x1 fusion: 3 pairs composed, 0.005 -> 0.010 GMACs" "$TMP/mb3.txt"
"$RMVK" convert "$MOBILE" -o "$TMP/mb4.onnx" --fuse-linear-all --no-fuse-linear >"$TMP/mb4.txt" 2>&1
check "two fusion choices are a usage error (exit 2)" test $? -eq 2
check "the usage error is one line" test "$(wc -l <"$TMP/mb4.txt")" -eq 1
"$RMVK" convert "$MOBILE" -o "$TMP/mb2.onnx" --no-fuse-linear >"$TMP/mb2.txt" 2>&1
check "--no-fuse-linear turns it off" test "$(grep -c "linear 1x1 fusion" "$TMP/mb2.txt")" -eq 0

"$RMVK" convert "$MODEL" >"$TMP/noout.txt" 2>&1
check "convert without -o is a usage error (exit 2)" test $? -eq 2
"$RMVK" convert "$TMP/missing.onnx" -o "$TMP/x.onnx" >"$TMP/missing.txt" 2>&1
check "convert of a missing file exits 1" test $? -eq 1
check "the error is one line" test "$(wc -l <"$TMP/missing.txt")" -eq 1
head -c 300 "$FIXTURE" >"$TMP/truncated.onnx"
"$RMVK" info "$TMP/truncated.onnx" >"$TMP/trunc.txt" 2>&1
check "info of a truncated file exits 1" test $? -eq 1
"$RMVK" convert "$MODEL" -o "$TMP/y.onnx" --verify-size 0x5 >"$TMP/badsize.txt" 2>&1
check "a bad --verify-size is a usage error" test $? -eq 2

exit $fail
