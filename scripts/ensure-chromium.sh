#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed, for the dashboard's browser tests (Playwright drives
# it; Playwright's own browser download is never used). Idempotent. Prints the executable's path
# on stdout; everything else goes to stderr.
set -euo pipefail
log() { echo "[chromium] $*" >&2; }

CHROMIUM=/usr/bin/chromium

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
# Without one font, every glyph renders as a box: the screenshots would show no text.
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -n 1)" ]; then missing+=(fonts-liberation); fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    log "${missing[*]} not installed and installing needs root: apt-get install ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already present"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# A browser that is there but cannot start (a missing library) fails here, not in every test.
# The launcher script warns on stderr about things that do not matter headless; only the exit counts.
if ! version="$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null)"; then
  log "$CHROMIUM is installed but does not run: '$CHROMIUM --version' failed"
  exit 1
fi
log "$version"
echo "$CHROMIUM"
