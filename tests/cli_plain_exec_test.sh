#!/bin/bash
# --plain-exec on run, eval and bench: structured (the default) and dense give matching outputs,
# bad values are usage errors (exit 2, one line naming the flag), and bench reports both plain
# executions beside the residual one.
# Usage: bash cli_plain_exec_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
. "$(dirname "$0")/cli_lib.sh"

IMAGE="$SRC/assets/samples/sneaker_0.png"
SMALL='builtin:resnet18?size=32x32&width=8&classes=10'

"$RMVK" run --help >"$TMP/help" 2>&1
check "run --help documents --plain-exec" grep -q -- "--plain-exec" "$TMP/help"
"$RMVK" run --input "$IMAGE" --plain-exec sparse >"$TMP/bad.txt" 2>&1
check "bad --plain-exec exits 2" test $? -eq 2
check "bad --plain-exec names the flag" grep -q -- "--plain-exec must be structured or dense" "$TMP/bad.txt"
"$RMVK" eval --plain-exec nope --limit 1 >"$TMP/bad_eval.txt" 2>&1
check "eval: bad --plain-exec exits 2" test $? -eq 2
"$RMVK" bench "$SMALL" --plain-exec nope --no-peak >"$TMP/bad_bench.txt" 2>&1
check "bench: bad --plain-exec exits 2" test $? -eq 2
check "bench: bad --plain-exec names the choices" grep -q "structured, dense or both" "$TMP/bad_bench.txt"

# The CPU executor: dense and structured plain graphs both match the residual one.
for exec in structured dense; do
    "$RMVK" run "$SMALL" --input "$IMAGE" --device cpu --graph both --plain-exec $exec \
        >"$TMP/cpu_$exec.txt" 2>&1
    check "cpu --plain-exec $exec exits 0" test $? -eq 0
    check "cpu --plain-exec $exec outputs match" grep -q "^outputs match" "$TMP/cpu_$exec.txt"
done
"$RMVK" eval --device cpu --graph both --plain-exec dense --limit 20 --batch 10 >"$TMP/eval.txt" 2>&1
check "eval --plain-exec dense exits 0" test $? -eq 0
check "eval --plain-exec dense: top-1 differs on no image" grep -q "top-1 differs on 0 images" "$TMP/eval.txt"

if "$RMVK" devices >"$TMP/devices.txt" 2>&1; then
    for exec in structured dense; do
        "$RMVK" run "$SMALL" --input "$IMAGE" --graph both --batch 2 --plain-exec $exec \
            >"$TMP/gpu_$exec.txt" 2>&1
        check "gpu --plain-exec $exec exits 0" test $? -eq 0
        check "gpu --plain-exec $exec outputs match" grep -q "^outputs match" "$TMP/gpu_$exec.txt"
    done
    "$RMVK" eval --device 0 --graph both --limit 20 --batch 10 >"$TMP/eval_gpu.txt" 2>&1
    check "gpu eval (structured) exits 0" test $? -eq 0
    check "gpu eval: top-1 differs on no image" grep -q "top-1 differs on 0 images" "$TMP/eval_gpu.txt"

    "$RMVK" bench "$SMALL" --warmup 1 --iters 1 --no-peak --json "$TMP/b.json" >"$TMP/bench.txt" 2>&1
    check "bench exits 0" test $? -eq 0
    check "bench summary has both plain executions" \
        grep -q "residual  *plain  *plain dense  *plain/residual  *plain dense/residual" "$TMP/bench.txt"
    check "bench per-layer rows mark the copy passes" grep -q "+copy" "$TMP/bench.txt"
    check "bench JSON holds the dense plain graph" grep -q '"plain dense"' "$TMP/b.json"
    # MACs are what each run multiplies: the structured plain graph only its dense blocks (less
    # than the dense run of the same graph, no less than the residual graph's convs).
    check "bench: structured plain MACs below dense plain, at least the residual's" python3 -c "
import json, sys
g = {x['graph']: x['total_macs'] for x in json.load(open(sys.argv[1]))['graphs']}
sys.exit(0 if g['residual'] <= g['plain'] < g['plain dense'] else 1)" "$TMP/b.json"
    "$RMVK" bench "$SMALL" --warmup 0 --iters 1 --no-peak --plain-exec dense >"$TMP/bench_d.txt" 2>&1
    check "bench --plain-exec dense exits 0" test $? -eq 0
    check "bench --plain-exec dense: only the dense plain graph" \
        grep -q "residual  *plain dense  *plain dense/residual" "$TMP/bench_d.txt"
    check "bench --plain-exec dense: no copy passes" bash -c "! grep -q '+copy' '$TMP/bench_d.txt'"
fi

if [ $fail -ne 0 ]; then
    for f in "$TMP"/*.txt; do echo "--- $f"; tail -5 "$f"; done
fi
exit $fail
