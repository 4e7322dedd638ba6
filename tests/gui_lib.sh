# Shared by the gui_*_test.sh scripts (sourced, not run by ctest): a private X server per run,
# and pixel checks on screenshots with ImageMagick.
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR="$TMP/xdg"
mkdir -m 700 "$XDG_RUNTIME_DIR"
export LIBGL_ALWAYS_SOFTWARE=1
fail=0

fail_with() {
    echo "FAIL: $*"
    fail=1
}

# run_gui ARGS...: the app under Xvfb at 1600x1000; stdout+stderr in $TMP/gui.log, status in $gui_rc.
run_gui() {
    gui_rc=0
    xvfb-run -a -s "-screen 0 1600x1000x24" "$RMVK" gui --width 1600 --height 1000 "$@" >"$TMP/gui.log" 2>&1 || gui_rc=$?
    if [ "$gui_rc" -ne 0 ]; then
        echo "rmvk gui exited with $gui_rc:"
        cat "$TMP/gui.log"
    fi
}

# region_stat PNG GEOMETRY FX: an ImageMagick fx statistic of a crop, e.g. standard_deviation.
region_stat() {
    convert "$1" -crop "$2" +repage -format "%[fx:$3]" info:
}

# colour_fraction PNG GEOMETRY COLOUR: share of the crop's pixels that are COLOUR (within 3%).
colour_fraction() {
    convert "$1" -crop "$2" +repage -alpha off -fuzz 3% -fill black +opaque "$3" -fill white -opaque "$3" \
        -colorspace gray -format "%[fx:mean]" info:
}

# at_least VALUE MIN: VALUE >= MIN as floats.
at_least() {
    $PY -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"
}
