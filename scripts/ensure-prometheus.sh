#!/usr/bin/env bash
# Makes sure the `prometheus` and `promtool` binaries from Debian's prometheus package are
# installed, for the system test that scrapes a controller and a worker with a real Prometheus.
# Idempotent. It never starts (or leaves running) the package's own service: tests run the binary
# themselves, with their own configuration, storage directory and port.
set -euo pipefail
log() { echo "[prometheus] $*" >&2; }

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  log "prometheus is not installed and installing it needs root: apt-get install prometheus"
  exit 1
fi

log "installing prometheus (Debian package; its service is not started)"
export DEBIAN_FRONTEND=noninteractive
# A policy-rc.d answering 101 tells the package scripts not to start the service.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already present"
apt-get install -y -qq --no-install-recommends prometheus >&2

# Should a service manager have started it anyway, stop it: it would hold port 9090 and a lock.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi
if [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi

command -v prometheus >/dev/null && command -v promtool >/dev/null
