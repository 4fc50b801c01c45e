#!/usr/bin/env bash
# The panel's browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download cannot be used here). Install Debian's chromium when it is missing; never skip.
set -euo pipefail
CHROMIUM=${PANEL_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "ensure-browser: $CHROMIUM is missing and installing it needs root (apt-get install chromium)" >&2; exit 1; fi
echo "ensure-browser: installing Debian's chromium for the panel's browser tests"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
test -x "$CHROMIUM" || { echo "ensure-browser: chromium installed but $CHROMIUM not found; set PANEL_CHROMIUM" >&2; exit 1; }
