#!/usr/bin/env bash
# Makes sure a local Docker Engine for the tests is installed, running and holding the test image.
# Idempotent and safe to run concurrently (a lock serialises callers):
#   - installs docker.io and busybox-static when missing,
#   - starts a private dockerd on its own socket, data root and exec root (no iptables, no bridge,
#     vfs storage: it needs nothing from the host's network setup) unless one already answers there,
#   - builds the image jobplane-test/busybox:1 from busybox-static unless it exists.
# Prints the DOCKER_HOST to use on stdout; everything else goes to stderr. Runs as root.
set -euo pipefail

SOCKET=/run/jobplane-docker.sock
DOCKER_HOST_URL="unix://${SOCKET}"
DATA_ROOT=/var/lib/jobplane-docker
EXEC_ROOT=/run/jobplane-docker-exec
PIDFILE=/run/jobplane-dockerd.pid
LOGFILE=/var/log/jobplane-dockerd.log
LOCKFILE=/run/jobplane-docker.lock
IMAGE=jobplane-test/busybox:1
START_TIMEOUT="${DOCKER_START_TIMEOUT:-60}"

log() { echo "[docker] $*" >&2; }
fail() { echo "[docker] error: $*" >&2; exit 1; }

[ "$(id -u)" = "0" ] || fail "must run as root (it installs packages and starts dockerd)"

# The daemon started below must not inherit this descriptor, or it would hold the lock for life.
exec 9>"$LOCKFILE"
flock 9

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
if ! [ -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then missing+=(busybox-static); fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The Debian client matches the Debian engine; any docker client speaks to it, though.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)" || fail "no docker client found after installing docker.io"
docker_() { "$DOCKER" -H "$DOCKER_HOST_URL" "$@"; }

if ! docker_ version >/dev/null 2>&1; then
  log "starting dockerd on ${SOCKET} (log: ${LOGFILE})"
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --host "$DOCKER_HOST_URL" --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
    </dev/null >>"$LOGFILE" 2>&1 9>&- &
  deadline=$((SECONDS + START_TIMEOUT))
  until docker_ version >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$LOGFILE" >&2 || true
      fail "dockerd did not answer on ${SOCKET} within ${START_TIMEOUT}s (log above, full log in ${LOGFILE})"
    fi
    sleep 0.2
  done
fi

if ! docker_ image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building ${IMAGE} from busybox-static"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  # mktemp made it 0700: the image's / must be searchable by a non-root user.
  chmod 0755 "$rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  # Every applet this busybox has (sh, echo, cat, sleep, mkdir, ln, dd, head, tail, yes, id, wget,
  # true, false, printf, ...), as a symbolic link beside it.
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  for applet in sh echo cat sleep mkdir ln dd head yes id wget true false printf; do
    [ -e "$rootfs/bin/$applet" ] || fail "busybox has no '$applet' applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker_ import \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["echo", "hello from the image default command"]' \
    - "$IMAGE" >/dev/null
fi

echo "$DOCKER_HOST_URL"
