#!/usr/bin/env bash
# Build the Glider image with podman (or docker), with or without a registry for the base image.
#
#   scripts/image.sh build [TAG]   build the Dockerfile (default tag glider:0.1.0)
#   scripts/image.sh base          print the base image the build uses, making it first if needed
#   scripts/image.sh standin       (re)build the Debian stand-in base now
#   scripts/image.sh standins      build the compose stand-ins (SeaweedFS, Redis, Prometheus) from
#                                  deploy/compose/*.Containerfile, for docker-compose.local.yml
#
# The base: $GLIDER_BASE when set; else the Dockerfile's python:3.11 slim image when it is present
# or can be pulled; else a stand-in made from Debian packages (debootstrap bookworm + python3,
# python3-venv and a `python` symlink: the same Python 3.11 and Debian 12), built once and kept as
# a tagged image. pip settings the host needs to reach its index (CA bundle, index URL) are passed
# to the build as secrets: they are mounted for the dependency step only and stay out of the image.
set -euo pipefail
cd "$(dirname "$0")/.."

STANDIN_REVISION=1  # bump when the recipe below changes: a new tag makes every machine rebuild it
STANDIN="localhost/glider-python-standin:3.11-bookworm-r${STANDIN_REVISION}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -n "${CONTAINER_ENGINE:-}" ]; then engine="$CONTAINER_ENGINE"
elif command -v podman >/dev/null; then engine=podman
else engine=docker; fi
if [ "$engine" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$PWD/deploy/podman/containers.conf"
fi

log() { echo "image.sh: $*" >&2; }
scratch="$(mktemp -d "${TMPDIR:-/var/tmp}/glider-image.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

real_base() {
  local name
  name="$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)"
  case "$name" in */*/*) echo "$name" ;; *) echo "docker.io/library/$name" ;; esac
}

build_standin() {
  command -v debootstrap >/dev/null || { log "debootstrap missing (scripts/system-deps.sh test)"; exit 1; }
  local root="$scratch/rootfs"
  log "building the stand-in base $STANDIN (debootstrap bookworm, about a minute)"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$MIRROR" >/dev/null
  # What python:3.11-slim also has: `python` on PATH. Like its base, debian:bookworm-slim: no docs,
  # manuals or translations, and apt keeps no caches or indexes, so the layers built on top are the
  # size they would be on the real base.
  ln -sf python3 "$root/usr/bin/python"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    > "$root/etc/dpkg/dpkg.cfg.d/docker"
  local clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"'
  printf '%s\n' "DPkg::Post-Invoke { $clean; };" "APT::Update::Post-Invoke { $clean; };" \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' 'Acquire::Languages "none";' \
    > "$root/etc/apt/apt.conf.d/docker-clean"
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$engine" import -q --change 'CMD ["python3"]' - "$STANDIN" >/dev/null
}

base() {
  if [ -n "${GLIDER_BASE:-}" ]; then echo "$GLIDER_BASE"; return; fi
  local real
  real="$(real_base)"
  if "$engine" image inspect "$real" >/dev/null 2>&1 \
     || timeout 300 "$engine" pull -q "$real" >/dev/null 2>&1; then
    echo "$real"; return
  fi
  "$engine" image inspect "$STANDIN" >/dev/null 2>&1 || build_standin
  echo "$STANDIN"
}

# The host's pip settings, limited to what works inside a build: the CA bundle and http(s) indexes.
pip_secrets() {
  local dir="$1" conf="$1/pip.conf"
  python3 - "$dir" <<'PY'
import os, subprocess, sys
from pathlib import Path
out = Path(sys.argv[1])
run = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
found = {}
for line in run.stdout.splitlines():  # "global.cert='/etc/ssl/...'", env (":env:.cert=...") last wins
    key, _, value = line.partition("=")
    found[key.rpartition(".")[2]] = value.strip("'\"")
env = {"cert": "PIP_CERT", "index-url": "PIP_INDEX_URL", "extra-index-url": "PIP_EXTRA_INDEX_URL",
       "trusted-host": "PIP_TRUSTED_HOST", "timeout": "PIP_DEFAULT_TIMEOUT"}
for key, name in env.items():
    if os.environ.get(name):
        found[key] = os.environ[name]
lines = ["[global]"]
cert = found.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE", "")
if cert and Path(cert).is_file():
    (out / "pip-ca.pem").write_bytes(Path(cert).read_bytes())
    lines.append("cert = /run/secrets/pip-ca.pem")
for key in ("index-url", "extra-index-url"):
    urls = [u for u in found.get(key, "").split() if u.startswith(("http://", "https://"))]
    if urls:
        lines.append(f"{key} = {' '.join(urls)}")
if found.get("trusted-host"):
    lines.append(f"trusted-host = {found['trusted-host']}")
timeout = found.get("timeout") or found.get("default-timeout")
if timeout:
    lines.append(f"timeout = {timeout}")
(out / "pip.conf").write_text("\n".join(lines) + "\n")
PY
  local args=(--secret "id=pip.conf,src=$conf")
  [ -f "$dir/pip-ca.pem" ] && args+=(--secret "id=pip-ca,src=$dir/pip-ca.pem")
  printf '%s\n' "${args[@]}"
}

# build TAG FROM [ARGS...]: the engine's build with the base and the pip secrets.
engine_build() {
  local tag="$1" from="$2" secrets_dir="$scratch/secrets"
  shift 2
  mkdir -p "$secrets_dir"
  local -a secrets
  mapfile -t secrets < <(pip_secrets "$secrets_dir")
  log "building $tag from $from with $engine"
  # Host network: the build reaches the package indexes the way this host does. Docker's image
  # format, not OCI's, keeps the HEALTHCHECK.
  local -a format=()
  [ "$engine" = podman ] && format=(--format docker)
  "$engine" build "${format[@]}" --network host --build-arg "PYTHON_IMAGE=$from" "${secrets[@]}" \
    -t "$tag" "$@"
}

build() {
  engine_build "${1:-glider:0.1.0}" "$(base)" .
}

# The tags docker-compose.local.yml names; the Containerfiles' own revision is in the tag.
standins() {
  local from name
  from="$(base)"
  for name in seaweedfs redis prometheus; do
    engine_build "localhost/glider-standin-$name:r1" "$from" -f "deploy/compose/$name.Containerfile" \
      deploy/compose
  done
}

case "${1:-build}" in
  build) build "${2:-}" ;;
  base) base ;;
  standin) build_standin; echo "$STANDIN" ;;
  standins) standins ;;
  *) echo "usage: $0 build [TAG] | base | standin | standins" >&2; exit 2 ;;
esac
