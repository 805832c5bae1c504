#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the browser end-to-end tests (tests/e2e) drive it
# with Playwright (executable /usr/bin/chromium; Playwright's own browser downloads are not used).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

echo "ensure-chromium: installing chromium from Debian's packages"
apt_install chromium
/usr/bin/chromium --version
