#!/bin/bash
# The Timing tab's plain execution (--plain-exec, the 'plain execution' control) under Xvfb: with
# dense, the plain graph is timed again from its materialised weights once the model is shown,
# beside the structured timing made when it opened, and the plain bars are the dense run's (no
# structured conv methods, no elided copies); the CPU reference times it dense too; an image
# picked while it is timed opens after it; a bad value is a one-line usage error. Without
# --plain-exec no dense figure exists (gui_default_test).
# Usage: bash gui_plain_exec_test.sh RMVK_BINARY SOURCE_DIR
set -u
RMVK=$1
SRC=$2
source "$SRC/tests/gui_lib.sh"

run_gui --plain-exec dense --tab timing --dump-state "$TMP/dense.json" --screenshot "$TMP/dense.png"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui --plain-exec dense exits 0"
[ -s "$TMP/dense.json" ] || { echo "FAIL: no state dump"; exit 1; }
$PY "$SRC/tests/gui_check.py" "$TMP/dense.json" \
    's["errors"] == [] and s["busy"] is False' \
    's["device"] != "CPU reference"' \
    's["active_tab"] == "Timing"' \
    's["timings"]["plain_exec"] == "dense"' \
    's["timings"]["plain"]["present"] and s["timings"]["plain"]["total_ms"] > 0' \
    's["timings"]["plain_dense"]["present"] and s["timings"]["plain_dense"]["total_ms"] > 0' \
    's["timings"]["plain_dense"]["nodes"] == s["timings"]["plain"]["nodes"]' \
    's["timings"]["plain_dense"]["weight_bytes"] > s["timings"]["plain"]["weight_bytes"] > 0' \
    's["timings"]["plain_dense"]["weight_bytes"] >= s["timings"]["plain_dense_weight_bytes"]' \
    's["timings"]["plain_dense_error"] == ""' \
    's["last_job"]["title"].startswith("Timing the plain graph dense")' \
    'len(s["timings"]["plain_shown_layers"]) > 0' \
    'not any(l[1].startswith("structured: ") for l in s["timings"]["plain_shown_layers"])' \
    'not any("copies not stored" in l[1] for l in s["timings"]["plain_shown_layers"])' \
    's["outputs"]["match"] is True' \
    || fail=1

run_gui --device cpu --plain-exec dense --dump-state "$TMP/cpu.json"
[ "$gui_rc" -eq 0 ] || fail_with "rmvk gui --device cpu --plain-exec dense exits 0"
$PY "$SRC/tests/gui_check.py" "$TMP/cpu.json" \
    's["errors"] == [] and s["device"] == "CPU reference"' \
    's["timings"]["plain_exec"] == "dense"' \
    's["timings"]["plain_dense"]["total_ms"] > 0 and s["timings"]["plain"]["total_ms"] > 0' \
    || fail=1

# An image picked in the browser while the dense timing runs opens once it is done (not dropped).
run_gui --plain-exec dense --browse image --pick coat_2.png --dump-state "$TMP/browse.json"
$PY "$SRC/tests/gui_check.py" "$TMP/browse.json" \
    's["errors"] == [] and s["busy"] is False' \
    's["image"].endswith("/samples/coat_2.png")' \
    's["outputs"]["match"] is True' \
    || fail=1

rc=0
"$RMVK" gui --plain-exec sparse >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
[ "$rc" -eq 2 ] || fail_with "--plain-exec sparse is a usage error, exit 2 (got $rc)"
[ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || fail_with "one line on stderr: $(cat "$TMP/bad.err")"
grep -q -- "--plain-exec must be structured or dense, not 'sparse'" "$TMP/bad.err" ||
    fail_with "the error names the option: $(cat "$TMP/bad.err")"

[ "$fail" -eq 0 ] && echo "gui_plain_exec_test: OK"
exit $fail
