#!/usr/bin/env bash
# `make dev`: a working local platform in one command, then a first job.
#   up    start (or reuse) PostgreSQL, build, migrate, start a controller and an exec worker,
#         create a dev tenant, run a hello job and show its logs and result
#   down  stop the controller and worker started by `up`
# State (generated secrets, the dev tenant's key, pids, logs) lives in ./.dev/.
set -euo pipefail
cd "$(dirname "$0")/.."
# The path without symbolic links: the worker refuses a work root reached through one.
ROOT="$(pwd -P)"
STATE="$ROOT/.dev"
PORT="${PORT:-6161}"
URL="http://127.0.0.1:${PORT}"
# Private by default: the dev tenant's key and the platform's logs are nobody else's business.
umask 077
mkdir -p "$STATE"
# Exec jobs run as users of their own and must reach their folders under .dev/work, by name only.
chmod 0711 "$STATE"

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

stop_pid() {
  local f="$STATE/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  stop_pid worker
  stop_pid controller
  say "jobplane dev platform stopped"
}

secret() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

up() {
  # Settings persist across runs so an existing dev tenant's key keeps working.
  if [ ! -f "$STATE/env" ]; then
    { echo "SYSTEM_SECRET=$(secret)"; echo "WORKER_TOKEN=$(secret)"; } > "$STATE/env"
    chmod 600 "$STATE/env"
  fi
  # shellcheck disable=SC1091
  source "$STATE/env"

  if [ -z "${DATABASE_URL:-}" ]; then
    say "== PostgreSQL (local; set DATABASE_URL to use another server)"
    scripts/ensure-postgres.sh
    if [ "$(psql -h /var/run/postgresql -d postgres -Atqc "select count(*) from pg_database where datname = 'jobplane_dev'")" != "1" ]; then
      createdb -h /var/run/postgresql jobplane_dev
    fi
    DATABASE_URL="Host=/var/run/postgresql;Username=$(id -un);Database=jobplane_dev"
  fi
  export DATABASE_URL SYSTEM_SECRET WORKER_TOKEN PORT

  say "== building ./bin/jobplane-controller, ./bin/jobplane-worker, ./bin/jobctl"
  make --no-print-directory build-all

  down >/dev/null 2>&1 || true
  say "== migrating"
  ./bin/jobplane-controller --migrate-only >"$STATE/migrate.log" 2>&1 || { cat "$STATE/migrate.log" >&2; exit 1; }

  say "== starting the controller on $URL (log: .dev/controller.log)"
  nohup ./bin/jobplane-controller >"$STATE/controller.log" 2>&1 &
  echo $! > "$STATE/controller.pid"
  for i in $(seq 1 100); do
    if curl -fsS "$URL/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$(cat "$STATE/controller.pid")" 2>/dev/null || [ "$i" = 100 ]; then
      echo "the controller did not become ready:" >&2; tail -20 "$STATE/controller.log" >&2; exit 1
    fi
    sleep 0.1
  done

  # As the README recommends for production: a root worker runs every exec job as an unprivileged
  # user of its own (EXEC_JOB_UIDS). Without root there is no one else to run them as; the worker
  # then refuses unless told to accept that, which is said loudly here and in its log.
  local as_worker_user=false
  if [ "$(id -u)" != "0" ]; then
    as_worker_user=true
    say "!! not root: exec jobs will run as $(id -un) and can read what it can (run make dev as root for per-job users)"
  fi
  say "== starting an exec worker (log: .dev/worker.log)"
  CONTROLLER_URL="$URL" RUNTIME=exec WORKER_ID=dev-worker RUNTIME_WORKDIR="$STATE/work" EXEC_RUN_AS_WORKER_USER="$as_worker_user" \
    nohup env -u DATABASE_URL -u SYSTEM_SECRET ./bin/jobplane-worker >"$STATE/worker.log" 2>&1 &
  echo $! > "$STATE/worker.pid"

  export JOBPLANE_URL="$URL"
  unset JOBPLANE_TOKEN
  if [ -f "$STATE/token" ] && JOBPLANE_TOKEN="$(cat "$STATE/token")" ./bin/jobctl jobs list >/dev/null 2>&1; then
    say "== reusing the dev tenant"
  else
    say "== creating a dev tenant"
    ./bin/jobctl tenant create --name "dev-$(date +%s)" -t "$SYSTEM_SECRET" -o json > "$STATE/tenant.json"
    sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p' "$STATE/tenant.json" > "$STATE/token"
    chmod 600 "$STATE/token" "$STATE/tenant.json"
    # New tenants get the operator's default runtimes (container runtimes only): the dev worker
    # runs exec, so allow it for this tenant, as an administrator would.
    tenant_id=$(sed -n 's/.*"tenant_id": *"\([^"]*\)".*/\1/p' "$STATE/tenant.json")
    ./bin/jobctl tenant update "$tenant_id" --allowed-runtimes exec,docker -t "$SYSTEM_SECRET"
  fi
  JOBPLANE_TOKEN="$(cat "$STATE/token")"
  export JOBPLANE_TOKEN

  say "== running a hello job"
  job=$(./bin/jobctl create --name hello --image exec -c sh -c \
    -c 'echo "hello from jobplane (execution $JOBPLANE_EXECUTION_ID)"; printf "{\"greeting\": \"hello\", \"answer\": 42}" > result.json')
  execution=$(./bin/jobctl run "$job")
  ./bin/jobctl logs -f "$execution"
  ./bin/jobctl status "$execution"

  cat >&2 <<TXT

jobplane is running: controller $URL, one exec worker.
Use it from this shell:
  export JOBPLANE_URL=$URL
  export JOBPLANE_TOKEN=$JOBPLANE_TOKEN
  ./bin/jobctl submit --name greet --image exec -c echo -c hi
The web dashboard: $URL/ui (sign in with the key above, or the administrator secret).
Administrator secret (tenant management): see .dev/env. Stop with: make dev-stop
TXT
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
