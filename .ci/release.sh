#!/usr/bin/env bash
# Release checks: build the sdist and wheel, check their metadata, install the wheel with no
# extras into a fresh venv and smoke-test it from outside the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TORCH_PINS=${TORCH_PINS:-"torch==2.14.1 torchaudio==2.11.0"}
DIST=${DIST:-dist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

rm -rf "$DIST"
"$PY" -m build --outdir "$DIST" .
"$PY" -m twine check --strict "$DIST"/*

python_version=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --upgrade pip
# shellcheck disable=SC2086  # the pins are two words
"$WORK/venv/bin/pip" install -q $TORCH_PINS
"$WORK/venv/bin/pip" install -q "$DIST"/audiomix-*.whl $TORCH_PINS
cp .ci/smoke.py "$WORK/smoke.py"
(cd "$WORK" && "$WORK/venv/bin/python" smoke.py)
echo "release: sdist and wheel built, twine check passed, wheel smoke-tested (Python $python_version)"
ls -l "$DIST"
