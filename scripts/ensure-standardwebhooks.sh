#!/usr/bin/env bash
# Makes sure the Standard Webhooks reference library (npm package standardwebhooks) is in the
# project's own tools folder, for the webhook tests, which have it verify signatures we made: a
# second implementation of the scheme, written by the specification's authors. Prints the package
# folder on stdout.
set -euo pipefail
# Pinned: the tests pin the verifier's behaviour, so a new release must be a deliberate change.
exec "$(dirname "$0")/ensure-npm-tool.sh" standardwebhooks 1.1.1
