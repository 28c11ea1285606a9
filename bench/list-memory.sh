#!/usr/bin/env bash
# Peak controller memory while clients page through executions holding 1 MiB results.
#
#   bench/list-memory.sh [CONTROLLER_BINARY]     (default: ./bin/jobplane-controller; make build-controller)
#
# Starts the controller on a fresh database of the local PostgreSQL (the unix socket, as root, the
# way the tests reach it), makes ROWS finished executions whose result is 1 MiB each, then has
# CLIENTS clients page through GET /executions (LIMIT rows a page, by offset, which every version
# serves) WALKS times each, all at once. Prints the controller's resident memory high-water mark
# (VmHWM) before and after the paging, the largest page and the time taken. Bounded: a fixed
# number of requests to 127.0.0.1, and the controller and database are removed at the end.
set -euo pipefail
BIN=${1:-./bin/jobplane-controller}
ROWS=${ROWS:-200}
CLIENTS=${CLIENTS:-8}
LIMIT=${LIMIT:-50}
WALKS=${WALKS:-2}
DB=jobplane_listmem_$$
SECRET=bench-admin-secret-0123456789
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)

createdb -h /var/run/postgresql "$DB"
cleanup() {
    [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    dropdb -h /var/run/postgresql --if-exists "$DB" || true
    rm -f "$LOG"
}
trap cleanup EXIT

DATABASE_URL="Host=/var/run/postgresql;Username=$(id -un);Database=$DB" SYSTEM_SECRET=$SECRET PORT=$PORT \
    TENANT_DEFAULT_RUNTIMES=any "$BIN" --migrate >"$LOG" 2>&1 &
PID=$!

python3 - "$PORT" "$PID" "$DB" "$SECRET" "$ROWS" "$CLIENTS" "$LIMIT" "$WALKS" <<'PY'
import json, subprocess, sys, threading, time, urllib.request

port, pid, db, secret = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows, clients, limit, walks = (int(a) for a in sys.argv[5:9])
base = f"http://127.0.0.1:{port}"

def call(method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()

def hwm_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")

for _ in range(600):
    try:
        urllib.request.urlopen(base + "/readyz", timeout=1).read()
        break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit("the controller did not become ready")

tenant = json.loads(call("POST", "/tenants", secret, {"name": "listmem"}))
key = tenant["api_key"]
job = json.loads(call("POST", "/jobs", key, {"name": "big-result", "image": "exec", "command": ["true"]}))["job_id"]
# 1 MiB of JSON string per result: 32768 copies of a 32-character digest.
subprocess.run(["psql", "-h", "/var/run/postgresql", "-q", "-v", "ON_ERROR_STOP=1", db, "-c", f"""
    insert into executions (id, tenant_id, job_id, status, priority, timeout_seconds, max_attempts, scheduled_at,
                            completed_at, exit_code, result)
    select gen_random_uuid(), '{tenant["tenant_id"]}', '{job}', 'SUCCEEDED', 50, 60, 3, now(), now(), 0,
           jsonb_build_object('data', repeat(md5(g::text), 32768))
    from generate_series(1, {rows}) g"""], check=True)

before = hwm_mib()
largest = [0]
errors = []
def walk():
    try:
        for _ in range(walks):
            offset = 0
            while True:
                body = call("GET", f"/executions?limit={limit}&offset={offset}", key)
                largest[0] = max(largest[0], len(body))
                n = len(json.loads(body)["executions"])
                if n < limit:
                    break
                offset += limit
    except Exception as e:
        errors.append(repr(e))

start = time.monotonic()
threads = [threading.Thread(target=walk) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
took = time.monotonic() - start
if errors:
    sys.exit(f"paging failed: {errors[0]}")
print(json.dumps({
    "rows": rows, "clients": clients, "limit": limit, "walks": walks,
    "controller_hwm_before_mib": round(before, 1), "controller_hwm_after_mib": round(hwm_mib(), 1),
    "largest_page_bytes": largest[0], "seconds": round(took, 2),
}))
PY
