#!/usr/bin/env bash
# Builds the jobplane container image (jobplane:dev by default): one image, three entry points
# (jobplane-controller, jobplane-worker, jobctl), on the test Docker Engine. No registry is needed:
#   - the base (jobplane-base:bookworm) is a Debian bookworm minbase made by debootstrap from the
#     mirror apt itself uses, with only what .NET needs (libicu72, libssl3, ca-certificates); it is
#     built once and kept;
#   - the binaries are published on the host, framework-dependent, and ONE copy of the host's .NET
#     runtime (with the ASP.NET Core shared framework) goes into the image beside them. Three
#     self-contained apps would carry three runtimes (about 106 MB each); one shared copy is the
#     smaller image;
#   - the image is labelled with a hash of its inputs (sources, build settings, Dockerfile, runtime
#     version); when jobplane:dev already carries that hash nothing is published or built again.
# Idempotent and safe to run concurrently (a lock serialises callers). Runs as root (apt, debootstrap).
# Prints the image's name and size at the end. Settings (environment):
#   IMAGE      the tag to build (default jobplane:dev)
#   BASE       a base image to use instead of the local Debian one (then debootstrap is not run),
#              e.g. mcr.microsoft.com/dotnet/runtime-deps:10.0 on a machine with a registry
#   DOCKER_HOST  the engine to build on (default: the one scripts/ensure-docker.sh starts)
#   FORCE=1    publish and build even when the inputs have not changed
#   PUBLISHED  a folder holding the three programs already published from this checkout with the
#              same settings (`make build-all` makes ./bin so); they are copied instead of published
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

IMAGE="${IMAGE:-jobplane:dev}"
LOCAL_BASE=jobplane-base:bookworm
BASE="${BASE:-$LOCAL_BASE}"
STAGE="$ROOT/artifacts/image"
LOCKFILE=/run/jobplane-build-images.lock

log() { echo "[images] $*" >&2; }
fail() { echo "[images] error: $*" >&2; exit 1; }

[ "$(id -u)" = "0" ] || fail "must run as root (it installs debootstrap and builds a root filesystem)"
started=$SECONDS

if [ -z "${DOCKER_HOST:-}" ]; then
  DOCKER_HOST="$(scripts/ensure-docker.sh)"
fi
export DOCKER_HOST
DOCKER="$(command -v docker)" || fail "no docker client (scripts/ensure-docker.sh installs one)"
docker_() { "$DOCKER" "$@"; }

exec 9>"$LOCKFILE"
flock 9

# --- the base: Debian minbase from the mirror apt is configured with --------------------------------
apt_mirror() {
  # deb822 sources (URIs: ...) first, then the one-line format (deb URL SUITE ...). The first
  # Debian archive that is not the security archive is the one debootstrap can use.
  local files=() f
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 1
  awk '
    /^[[:space:]]*#/ { next }
    /^URIs:/ { for (i = 2; i <= NF; i++) print $i; next }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
  ' "${files[@]}" | grep -v -- '-security' | grep -m1 -i 'debian' || return 1
}

# What the local base is made of; a base made by another recipe (an older script) is built again.
SUITE=bookworm
PACKAGES=libicu72,libssl3,ca-certificates
BASE_RECIPE="debootstrap minbase $SUITE +$PACKAGES; without docs, manuals, translations, apt lists"
base_recipe_of() { docker_ image inspect --format '{{ index .Config.Labels "dev.jobplane.base-recipe" }}' "$1" 2>/dev/null || true; }

if [ "$BASE" = "$LOCAL_BASE" ] && [ "$(base_recipe_of "$LOCAL_BASE")" != "$BASE_RECIPE" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
  mirror="$(apt_mirror)" || fail "no Debian mirror found in apt's sources list"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  log "building $LOCAL_BASE with debootstrap from $mirror (about a minute)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" >&2 \
    || fail "debootstrap failed (see above)"
  # What a container never needs: package caches, the apt lists, documentation, and the message
  # translations of Debian's tools (33 MB; .NET formats with ICU, not with these).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  chmod 0755 "$rootfs"
  tar -C "$rootfs" --numeric-owner -c . | docker_ import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL dev.jobplane.base-recipe=\"$BASE_RECIPE\"" \
    - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

# --- the app layer -------------------------------------------------------------------------------
DOTNET_HOME="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')"
aspnet_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.AspNetCore.App" { v = $2 } END { print v }')"
[ -n "$runtime_version" ] && [ -n "$aspnet_version" ] || fail "no .NET runtime found beside $DOTNET_HOME/dotnet"
fxr_version="$(ls "$DOTNET_HOME/host/fxr" | sort -V | tail -n1)"

# Everything the image is made of; the same hash means the same image.
inputs_hash="$(
  {
    git ls-files -co --exclude-standard -- src Directory.Build.props Directory.Packages.props global.json \
      deploy/Dockerfile scripts/build-images.sh | sort | while read -r f; do
      [ -f "$f" ] && sha256sum "$f"
    done
    echo "base=$BASE $(docker_ image inspect --format '{{.Id}}' "$BASE" 2>/dev/null || true)"
    echo "runtime=$runtime_version aspnet=$aspnet_version fxr=$fxr_version"
  } | sha256sum | cut -c1-64
)"
current="$(docker_ image inspect --format '{{ index .Config.Labels "dev.jobplane.inputs" }}' "$IMAGE" 2>/dev/null || true)"

if [ "${FORCE:-}" != "1" ] && [ "$current" = "$inputs_hash" ]; then
  log "$IMAGE is current (inputs unchanged)"
else
  rm -rf "$STAGE/app"
  mkdir -p "$STAGE/app"
  if [ -n "${PUBLISHED:-}" ]; then
    log "taking controller, worker and jobctl from $PUBLISHED"
    for entry in jobplane-controller jobplane-worker jobctl; do
      cp -a "$PUBLISHED/$entry" "$STAGE/app/" || fail "$PUBLISHED has no $entry"
    done
  else
    log "publishing controller, worker and jobctl (framework-dependent, linux-x64)"
    for project in Jobplane.Controller Jobplane.Worker Jobplane.Cli; do
      dotnet publish "src/$project" -c Release -r linux-x64 --self-contained false \
        -p:PublishSingleFile=true -p:DebugType=embedded --nologo -v quiet -o "$STAGE/app" >&2
    done
  fi
  # Only the three programs (and any file they carry beside them) go in, never a debugging symbol file.
  rm -f "$STAGE"/app/*.pdb
  for entry in jobplane-controller jobplane-worker jobctl; do
    [ -x "$STAGE/app/$entry" ] || fail "publish made no $entry"
  done

  # One copy of the runtime: the muxer, the resolver and the two shared frameworks the apps use.
  # Copied only when it changed, so the image build reuses its cached layer.
  runtime_stamp="$runtime_version $aspnet_version $fxr_version"
  if [ "$(cat "$STAGE/dotnet.version" 2>/dev/null || true)" != "$runtime_stamp" ]; then
    log "staging the .NET runtime $runtime_version (ASP.NET Core $aspnet_version)"
    rm -rf "$STAGE/dotnet"
    mkdir -p "$STAGE/dotnet/host/fxr" "$STAGE/dotnet/shared/Microsoft.NETCore.App" "$STAGE/dotnet/shared/Microsoft.AspNetCore.App"
    cp -a "$DOTNET_HOME/dotnet" "$DOTNET_HOME/LICENSE.txt" "$DOTNET_HOME/ThirdPartyNotices.txt" "$STAGE/dotnet/"
    cp -a "$DOTNET_HOME/host/fxr/$fxr_version" "$STAGE/dotnet/host/fxr/"
    cp -a "$DOTNET_HOME/shared/Microsoft.NETCore.App/$runtime_version" "$STAGE/dotnet/shared/Microsoft.NETCore.App/"
    cp -a "$DOTNET_HOME/shared/Microsoft.AspNetCore.App/$aspnet_version" "$STAGE/dotnet/shared/Microsoft.AspNetCore.App/"
    echo "$runtime_stamp" >"$STAGE/dotnet.version"
  fi
  # Same modification times for unchanged content keep the build cache of the runtime layer valid.
  find "$STAGE/dotnet" -exec touch -h -d @0 {} +
  cp deploy/Dockerfile "$STAGE/Dockerfile"
  printf 'Dockerfile\ndotnet.version\n' >"$STAGE/.dockerignore"

  log "building $IMAGE on $BASE"
  docker_ build --quiet --build-arg "BASE=$BASE" --label "dev.jobplane.inputs=$inputs_hash" \
    -t "$IMAGE" -f "$STAGE/Dockerfile" "$STAGE" >/dev/null
  # Layers of earlier builds that no tag names any more.
  docker_ image prune -f --filter "label=dev.jobplane.inputs" >/dev/null || true
fi

size="$(docker_ image inspect --format '{{.Size}}' "$IMAGE")"
base_size="$(docker_ image inspect --format '{{.Size}}' "$BASE" 2>/dev/null || echo 0)"
log "done in $((SECONDS - started))s"
echo "$IMAGE $((size / 1000000)) MB (base $BASE $((base_size / 1000000)) MB, jobplane's layers $(((size - base_size) / 1000000)) MB)"
