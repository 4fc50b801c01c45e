#!/usr/bin/env bash
# Re-vendor the panel's JavaScript and CSS from the npm registry into static/vendor/ (committed:
# the panel must work on an isolated plant network, no CDN). Bump a version here, run, commit.
set -euo pipefail
HTMX=2.0.11
UPLOT=1.6.32
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$HTMX" "uplot@$UPLOT" >/dev/null && for f in *.tgz; do mkdir "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done)
mkdir -p static/vendor
cp "$tmp/htmx.org-$HTMX/package/dist/htmx.min.js" static/vendor/htmx.min.js
cp "$tmp/htmx.org-$HTMX/package/LICENSE" static/vendor/htmx.LICENSE
cp "$tmp/uplot-$UPLOT/package/dist/uPlot.iife.min.js" static/vendor/uPlot.iife.min.js
cp "$tmp/uplot-$UPLOT/package/dist/uPlot.min.css" static/vendor/uPlot.min.css
cp "$tmp/uplot-$UPLOT/package/LICENSE" static/vendor/uPlot.LICENSE
printf 'htmx.org %s\nuplot %s\n' "$HTMX" "$UPLOT" > static/vendor/VERSIONS
echo "vendored htmx.org $HTMX and uplot $UPLOT into static/vendor/"
