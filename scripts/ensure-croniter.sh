#!/usr/bin/env bash
# Makes sure Python's croniter (Debian's python3-croniter, for the system's /usr/bin/python3) is installed: the schedule tests compare
# the fire times jobplane computes with this second, independent cron implementation. Idempotent.
set -euo pipefail
log() { echo "[croniter] $*" >&2; }

if /usr/bin/python3 -c 'import croniter' >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  log "python3-croniter is not installed and installing it needs root: apt-get install python3-croniter"
  exit 1
fi
log "installing python3-croniter (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already present"
apt-get install -y -qq --no-install-recommends python3-croniter >&2
/usr/bin/python3 -c 'import croniter'
