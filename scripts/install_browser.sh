#!/usr/bin/env bash
# Install Debian's Chromium for the real-browser tests (tests/test_browser.py).
# Playwright drives this system browser: its own browser download needs a CDN that a
# closed machine cannot reach, and the Debian package comes from a reachable mirror.
# Needs root (CI and the developers' machines run as root). Idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_browser: /usr/bin/chromium is missing and installing it needs root" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version
