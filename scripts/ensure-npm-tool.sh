#!/usr/bin/env bash
# Usage: ensure-npm-tool.sh PACKAGE VERSION
# Makes sure one pinned npm package is in the project's own, git-ignored tools folder
# (.tools/PACKAGE), for tests that use a second implementation of something we build. Idempotent;
# never installs anything globally (npm itself comes from Debian when missing). Prints the
# package's folder on stdout; the rest goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:?package name}
VERSION=${2:?pinned version}
log() { echo "[$NAME] $*" >&2; }

PREFIX="$PWD/.tools/$NAME"
PACKAGE="$PREFIX/node_modules/$NAME"

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

log "installing $NAME@$VERSION into ${PREFIX#"$PWD"/}"
mkdir -p "$PREFIX"
# A package.json of its own keeps npm from walking up to look for one in a parent folder.
[ -f "$PREFIX/package.json" ] || echo '{ "name": "jobplane-test-tools", "private": true }' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error "$NAME@$VERSION" >&2

if [ "$(installed_version)" != "$VERSION" ]; then
  log "npm finished but $PACKAGE (version $VERSION) is not there"
  exit 1
fi
echo "$PACKAGE"
