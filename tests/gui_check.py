"""Checks a `rmvk gui --dump-state` file: each argument is a Python expression over `s` (the
state as a dict) that must be true. Prints every failed check; exits 1 if any failed.
Usage: python3 gui_check.py STATE.json 'EXPR' ['EXPR' ...]"""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        s = json.load(f)
    failed = 0
    for expr in sys.argv[2:]:
        try:
            ok = bool(eval(expr, {}, {"s": s}))
        except Exception as e:  # a missing key is a failed check, not a crash
            ok = False
            expr += f"  ({type(e).__name__}: {e})"
        if not ok:
            print(f"FAIL: {expr}")
            failed += 1
    if failed:
        print(json.dumps(s, indent=1)[:4000])
    sys.exit(1 if failed else 0)


main()
