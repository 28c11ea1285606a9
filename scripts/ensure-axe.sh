#!/usr/bin/env bash
# Makes sure the accessibility engine axe-core (npm) is in the project's own, git-ignored tools
# folder, for the dashboard's browser tests, which inject it into each page they check. Idempotent;
# never installs anything globally. Prints the path of axe.min.js on stdout; the rest goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[axe] $*" >&2; }

# Pinned: a new axe-core release adds rules, and a rule that appears by itself would fail the suite.
VERSION=4.14.1
PREFIX="$PWD/.tools/axe-core"
PACKAGE="$PREFIX/node_modules/axe-core"
SCRIPT="$PACKAGE/axe.min.js"

installed_version() {
  [ -f "$PACKAGE/package.json" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PACKAGE/package.json" | head -n 1
}

if [ -f "$SCRIPT" ] && [ "$(installed_version)" = "$VERSION" ]; then
  echo "$SCRIPT"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    log "npm is not installed and installing it needs root: apt-get install npm"
    exit 1
  fi
  log "installing npm (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already present"
  apt-get install -y -qq --no-install-recommends npm >&2
fi

log "installing axe-core@$VERSION into ${PREFIX#"$PWD"/}"
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to look for one in a parent folder.
[ -f "$PREFIX/package.json" ] || echo '{ "name": "jobplane-test-tools", "private": true }' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error "axe-core@$VERSION" >&2

if [ ! -f "$SCRIPT" ] || [ "$(installed_version)" != "$VERSION" ]; then
  log "npm finished but $SCRIPT (version $VERSION) is not there"
  exit 1
fi
echo "$SCRIPT"
