#!/usr/bin/env bash
# Makes sure the Standard Webhooks reference library (npm package standardwebhooks) is in the
# project's own, git-ignored tools folder, for the webhook tests, which have it verify signatures we
# made: a second implementation of the scheme, written by the specification's authors. Idempotent;
# never installs anything globally. Prints the package folder on stdout; the rest goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[standardwebhooks] $*" >&2; }

# Pinned: the tests pin the verifier's behaviour, so a new release must be a deliberate change.
VERSION=1.1.1
PREFIX="$PWD/.tools/standardwebhooks"
PACKAGE="$PREFIX/node_modules/standardwebhooks"

installed_version() {
  [ -f "$PACKAGE/package.json" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PACKAGE/package.json" | head -n 1
}

if [ "$(installed_version)" = "$VERSION" ]; then
  echo "$PACKAGE"
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

log "installing standardwebhooks@$VERSION into ${PREFIX#"$PWD"/}"
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to look for one in a parent folder.
[ -f "$PREFIX/package.json" ] || echo '{ "name": "jobplane-test-tools", "private": true }' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error "standardwebhooks@$VERSION" >&2

if [ "$(installed_version)" != "$VERSION" ]; then
  log "npm finished but $PACKAGE (version $VERSION) is not there"
  exit 1
fi
echo "$PACKAGE"
