#!/usr/bin/env bash
# Make sure a headless Chromium and its chromedriver exist (the HTML report's browser test).
# Debian/Ubuntu: installs the distribution packages `chromium` and `chromium-driver` when absent.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }

if have chromium && have chromedriver; then
  echo "chromium: $(chromium --version 2>/dev/null | head -n1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium/chromedriver missing and apt-get not available; install them by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
echo "chromium: $(chromium --version 2>/dev/null | head -n1)"
