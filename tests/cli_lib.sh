# Shared by the cli_*_test.sh scripts (sourced, not run by ctest): a temp dir removed on exit,
# and `check DESCRIPTION COMMAND...`, which records a failure when the command does not succeed.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() {
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what"
        fail=1
    fi
}
