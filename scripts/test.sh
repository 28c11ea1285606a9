#!/usr/bin/env bash
# Runs the whole test suite against real parts: starts (installing if needed) a local PostgreSQL
# and a private Docker Engine, builds the binaries users run, then runs every test project.
# Prints one closing line:
#   "tests: N passed, N failed, N skipped"
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${JOBPLANE_TEST_DATABASE_URL:-}" ]; then
  scripts/ensure-postgres.sh
fi
if [ -z "${JOBPLANE_TEST_DOCKER_HOST:-}" ]; then
  JOBPLANE_TEST_DOCKER_HOST="$(scripts/ensure-docker.sh)"
fi
export JOBPLANE_TEST_DOCKER_HOST
# The observability system test scrapes the platform with a real Prometheus server.
scripts/ensure-prometheus.sh
# The schedule tests compare fire times with a second cron implementation (Python croniter).
scripts/ensure-croniter.sh
# The dashboard's browser tests drive Debian's Chromium and check each page with axe-core.
if [ -z "${JOBPLANE_TEST_CHROMIUM:-}" ]; then
  JOBPLANE_TEST_CHROMIUM="$(scripts/ensure-chromium.sh)"
fi
if [ -z "${JOBPLANE_TEST_AXE:-}" ]; then
  JOBPLANE_TEST_AXE="$(scripts/ensure-axe.sh)"
fi
export JOBPLANE_TEST_CHROMIUM JOBPLANE_TEST_AXE
# The webhook tests have the Standard Webhooks reference library (npm) verify our signatures.
if [ -z "${JOBPLANE_TEST_STANDARDWEBHOOKS:-}" ]; then
  JOBPLANE_TEST_STANDARDWEBHOOKS="$(scripts/ensure-standardwebhooks.sh)"
fi
export JOBPLANE_TEST_STANDARDWEBHOOKS

echo "== building" >&2
dotnet build Jobplane.slnx -c Debug --nologo -v quiet -clp:ErrorsOnly
make --no-print-directory build-all
export JOBPLANE_BIN="$PWD/bin"
# The container image the image tests run (skipped when its inputs have not changed).
DOCKER_HOST="$JOBPLANE_TEST_DOCKER_HOST" PUBLISHED="$JOBPLANE_BIN" scripts/build-images.sh

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
# A test that hangs is ended after 10 minutes and named as the one that hung, instead of holding
# the run until CI's own limit.
args=(--no-build -c Debug --nologo --logger "console;verbosity=normal" --results-directory "$results"
  --blame-hang --blame-hang-timeout 10min --blame-hang-dump-type none)
if [ "${COVERAGE:-}" = "1" ]; then
  args+=(--collect "XPlat Code Coverage")
fi

# The hostile-tenant suite writes its table of attacks and outcomes here; it is printed at the end.
export JOBPLANE_HOSTILE_REPORT="$results/hostile-tenant.txt"
# The dashboard's browser tests add a row per page checked with axe: violations by impact.
export JOBPLANE_AXE_REPORT="$results/accessibility.md"

# Containers an earlier, interrupted run left behind (it never reached its own cleanup) would be
# counted against this run by the check at the end: stopped ones are removed now, and named. A
# running one is left alone (it may be a local platform's job) and still counts at the end.
stale="$(docker -H "$JOBPLANE_TEST_DOCKER_HOST" ps -a --filter label=jobplane.managed=true \
  --filter status=exited --filter status=created --filter status=dead --format '{{.ID}} {{.Names}}')"
if [ -n "$stale" ]; then
  echo "docker: removing stopped jobplane containers an earlier run left: $(echo "$stale" | awk '{print $2}' | tr '\n' ' ')" >&2
  echo "$stale" | awk '{print $1}' | xargs docker -H "$JOBPLANE_TEST_DOCKER_HOST" rm -f >/dev/null
fi

status=0
echo "== testing" >&2
dotnet test Jobplane.slnx "${args[@]}" 2>&1 | tee "$results/output.txt" || status=$?

if [ "${COVERAGE:-}" = "1" ]; then
  rm -rf coverage && mkdir -p coverage
  find "$results" -name 'coverage.cobertura.xml' | while read -r f; do
    cp "$f" "coverage/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$(dirname "$f")").cobertura.xml"
  done
  echo "coverage reports: $(ls coverage | wc -l) files in ./coverage" >&2
fi

# The fault-injection suite at CI size: whole processes, crashes and restarts, then the checks
# (lost, unexpected, double completion, overlapping leases). Counted as one test.
faults_passed=0
faults_failed=0
echo "== fault injection (N=${FAULTS_N:-150})" >&2
if JOBPLANE_BIN="$PWD/bin" timeout --signal=TERM 900 dotnet run --no-build --project tests/Jobplane.Faults -c Debug -- \
    --executions "${FAULTS_N:-150}" --json "$results/faults.json"; then
  faults_passed=1
else
  faults_failed=1
fi

# Sum the per-project summaries ("Total tests: 12" followed by "     Passed: 12", "     Failed: 1", ...).
read -r passed failed skipped projects < <(awk '
  /^Total tests: [0-9]+/ { n++ }
  /^ +Passed: [0-9]+$/  { p += $2 }
  /^ +Failed: [0-9]+$/  { f += $2 }
  /^ +Skipped: [0-9]+$/ { s += $2 }
  END { print p+0, f+0, s+0, n+0 }' "$results/output.txt")
passed=$((passed + faults_passed))
failed=$((failed + faults_failed))

# After everything: no container the platform made is left on the engine (counted as one test).
leftover="$(docker -H "$JOBPLANE_TEST_DOCKER_HOST" ps -a --filter label=jobplane.managed=true --format '{{.Names}} {{.Labels}}')"
if [ -z "$leftover" ]; then
  passed=$((passed + 1))
  echo "docker: no jobplane container left behind"
else
  failed=$((failed + 1))
  echo "docker: jobplane containers left behind:" >&2
  echo "$leftover" >&2
fi
echo
if [ -f "$JOBPLANE_HOSTILE_REPORT" ]; then cat "$JOBPLANE_HOSTILE_REPORT"; echo; fi
if [ -f "$JOBPLANE_AXE_REPORT" ]; then echo "accessibility (axe-core, violations by impact):"; cat "$JOBPLANE_AXE_REPORT"; echo; fi
echo "$projects test projects ran, and the fault-injection suite $([ "$faults_failed" = 1 ] && echo FAILED || echo passed)"
# The runtime conformance suite per runtime, from the per-test lines ("  Passed ...ExecConformance.X [1 s]"):
#   "conformance: docker 20 passed, 0 failed; exec 20 passed, 0 failed"
conformance="$(awk '
  match($0, /^ +(Passed|Failed) Jobplane\.Worker\.Tests\.Conformance\.[A-Za-z]+Conformance\./) {
    split(substr($0, RSTART, RLENGTH), words, " ")
    split(words[2], parts, "."); runtime = tolower(parts[5]); sub(/conformance$/, "", runtime)
    if (words[1] == "Passed") ok[runtime]++; else bad[runtime]++
    seen[runtime] = 1
  }
  END { for (r in seen) printf "%s %d passed, %d failed\n", r, ok[r], bad[r] }' "$results/output.txt" | sort | paste -sd ';' | sed 's/;/; /g')"
echo "conformance: ${conformance:-no runtime ran the conformance suite}"
# Each failed test by name with the start of its message, last, where a reader of only the end of
# the log (CI keeps the tail) still sees what failed and why.
failures="$(awk '
  /^ +Failed [A-Za-z_][A-Za-z0-9_.]*/ { print "FAILED" substr($0, index($0, "Failed") + 6); grab = 1; n = 0; next }
  grab && /^ +Stack Trace:/ { grab = 0; next }
  grab && /^ +Error Message:/ { next }
  grab && n < 8 { print "    " $0; n++ }
  grab && n >= 8 { grab = 0 }' "$results/output.txt")"
if [ -n "$failures" ]; then echo "$failures"; fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
if [ "$skipped" -ne 0 ]; then echo "skipped tests are not allowed" >&2; exit 1; fi
