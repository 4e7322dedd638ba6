#!/bin/bash
# Every C++ and GLSL source file git tracks is formatted as .clang-format says (Debian's
# clang-format 14). Fix a failure with: clang-format -i FILE
# Usage: bash format_test.sh RMVK_BINARY SOURCE_DIR
set -u
SRC=$2
cd "$SRC" || exit 1
command -v clang-format >/dev/null || { echo "FAIL: clang-format is not installed (.ci/install-deps)"; exit 1; }
files=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.comp' '*.glsl' '*.vert' '*.frag')
[ -n "$files" ] || { echo "FAIL: no source files found under $SRC (not a git checkout?)"; exit 1; }
bad=0
for f in $files; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "FAIL: $f differs from .clang-format (clang-format -i $f)"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "all $(echo "$files" | wc -w) files formatted"
exit $bad
