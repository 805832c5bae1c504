#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the browser end-to-end tests (tests/e2e) drive it
# with Playwright (executable /usr/bin/chromium; Playwright's own browser downloads are not used).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "ensure-chromium: '$*' needs root; run it as root or install sudo" >&2; exit 1
    fi
}

echo "ensure-chromium: installing chromium from Debian's packages"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
