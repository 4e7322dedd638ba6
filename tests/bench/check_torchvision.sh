#!/bin/bash
# Runs the torchvision end-to-end check with Debian's PyTorch. Not part of CI.
# Usage: bash tests/bench/check_torchvision.sh RMVK_BINARY [--models resnet18,resnet50] [--graphs residual,plain]
set -eu
exec /usr/bin/python3 "$(dirname "$0")/check_torchvision.py" "$@"
