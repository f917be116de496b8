#!/usr/bin/env bash
# Install the Debian packages Glider needs, only when missing. Usage: system-deps.sh [runtime|test]
# runtime: xdelta3 (the codec). test: also redis-server, prometheus (promtool), chromium, zstd, and
# podman + runc + debootstrap (tests/integration/test_image.py builds and runs the image; runc because
# crun, podman's default, cannot set rlimits on some sandboxed hosts).
set -euo pipefail
profile="${1:-runtime}"
need=()
command -v xdelta3 >/dev/null || need+=(xdelta3)
command -v zstd >/dev/null || need+=(zstd)
if [ "$profile" = "test" ]; then
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v prometheus >/dev/null || need+=(prometheus)
  command -v chromium >/dev/null || need+=(chromium)
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v debootstrap >/dev/null || need+=(debootstrap)
fi
if [ "$profile" = "test" ] && ! node -p 'process.versions.zlib' 2>/dev/null | grep -q -- -; then
  # Not installable from Debian: its nodejs links the system zlib, which does not rebuild npm's bytes.
  echo "warning: the node-zlib gzip tests need node and npm from nodejs.org or NodeSource (bundled zlib)" >&2
fi
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Wait for another apt (a parallel job) instead of failing on its lock.
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}" >/dev/null
