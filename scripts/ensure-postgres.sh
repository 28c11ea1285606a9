#!/usr/bin/env bash
# Makes sure a local PostgreSQL server is installed, running and reachable by the current user
# over the unix socket. Idempotent: safe to run before every `make dev` / `make test`.
# Prints nothing on stdout except errors go to stderr; callers use the socket connection string
# `Host=/var/run/postgresql;Username=$(id -un)`.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
log() { echo "[postgres] $*" >&2; }

as_postgres() {
  if [ "$(id -un)" = "postgres" ]; then "$@"; else su postgres -s /bin/bash -c "$(printf '%q ' "$@")"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d "/usr/lib/postgresql/${PG_VERSION}/bin" ]; then
  log "installing postgresql-${PG_VERSION}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "postgresql-${PG_VERSION}" >&2
fi

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main"' | grep -q .; then
  log "creating cluster ${PG_VERSION}/main"
  pg_createcluster "$PG_VERSION" main >&2
fi

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
  # The benchmark (make bench) counts statements per job with pg_stat_statements, which must be
  # loaded at server start. Only set here, before a start we make anyway: a running server is never
  # restarted for it (the benchmark then reports commits only).
  conf_d="/etc/postgresql/${PG_VERSION}/main/conf.d"
  if [ -d "$conf_d" ] && [ ! -e "$conf_d/jobplane-stat-statements.conf" ] \
     && [ -f "/usr/share/postgresql/${PG_VERSION}/extension/pg_stat_statements.control" ] \
     && ! grep -rqs '^[[:space:]]*shared_preload_libraries' "/etc/postgresql/${PG_VERSION}/main/postgresql.conf" "$conf_d"; then
    log "loading pg_stat_statements at server start (for make bench)"
    echo "shared_preload_libraries = 'pg_stat_statements'" > "$conf_d/jobplane-stat-statements.conf"
  fi
  log "starting cluster ${PG_VERSION}/main"
  pg_ctlcluster "$PG_VERSION" main start >&2
fi

for _ in $(seq 1 50); do
  if as_postgres psql -Atqc "select 1" >/dev/null 2>&1; then break; fi
  sleep 0.2
done

me="$(id -un)"
if [ "$me" != "postgres" ]; then
  if [ "$(as_postgres psql -Atqc "select count(*) from pg_roles where rolname = '$me'")" != "1" ]; then
    log "creating superuser role '$me' (local peer authentication)"
    as_postgres createuser -s "$me"
  fi
fi
