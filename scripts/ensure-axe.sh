#!/usr/bin/env bash
# Makes sure the accessibility engine axe-core (npm) is in the project's own tools folder, for the
# dashboard's browser tests, which inject it into each page they check. Prints the path of
# axe.min.js on stdout.
set -euo pipefail
# Pinned: a new axe-core release adds rules, and a rule that appears by itself would fail the suite.
PACKAGE=$("$(dirname "$0")/ensure-npm-tool.sh" axe-core 4.14.1)
SCRIPT="$PACKAGE/axe.min.js"
if [ ! -f "$SCRIPT" ]; then
  echo "[axe-core] $SCRIPT is not there" >&2
  exit 1
fi
echo "$SCRIPT"
