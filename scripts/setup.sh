#!/usr/bin/env bash
# Installs metagen and its dependencies into the current Python environment.
# The pinned CPU build of torch is installed first when no torch is present, so that pip
# does not resolve an unpinned torch to a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
"$PYTHON" -m pip install --quiet -e ".[dev]"
