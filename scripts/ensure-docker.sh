#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io (and debootstrap, which the
# offline runner-image build uses) where missing, and start dockerd without any network bridge.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

log=/var/log/faultline-dockerd.log

if docker info >/dev/null 2>&1; then
    exit 0
fi

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "ensure-docker: installing docker.io and debootstrap from Debian's packages"
    apt_install docker.io debootstrap
fi

if ! pgrep -x dockerd >/dev/null; then
    echo "ensure-docker: starting dockerd (no bridge network; sandboxes run with --network none)"
    as_root bash -c "nohup dockerd --bridge=none --iptables=false --ip-masq=false >>$log 2>&1 &"
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "ensure-docker: the Docker engine did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
