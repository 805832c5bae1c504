#!/usr/bin/env bash
# Build the candidate editor bundle (CodeMirror 6) into app/static/dist/editor.js.
# The bundle is committed, so running Faultline needs no Node.js; run this after changing
# frontend/ (its package-lock.json pins every version: `npm ci` installs exactly those).
set -euo pipefail
cd "$(dirname "$0")/../frontend"

if ! command -v npm >/dev/null; then
    echo "build-frontend: npm is missing (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi

npm ci --no-audit --no-fund
mkdir -p ../app/static/dist
npm run --silent build  # esbuild, options in package.json
# What the bundle was built from, so the tests can tell when frontend/ changed without a rebuild
# (CI has no npm). The build is reproducible: the same sources give the same bytes.
cd ..
sha256sum frontend/package.json frontend/package-lock.json frontend/src/*.js \
    app/static/dist/editor.js >app/static/dist/editor.js.sha256
echo "build-frontend: wrote app/static/dist/editor.js ($(wc -c <app/static/dist/editor.js) bytes) and its .sha256"
