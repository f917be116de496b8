#!/usr/bin/env bash
# The compose stack on local stand-in images (docker-compose.local.yml), with podman-compose.
#
#   scripts/compose-local.sh up     build the images if needed, start the stack, wait until it serves
#   scripts/compose-local.sh down   stop it and drop its volumes
#   scripts/compose-local.sh ps|logs [SERVICE]
#
# GLIDER_LOOPBACK (default 127.0.10) picks the loopback addresses, COMPOSE_PROJECT_NAME the project,
# GLIDER_IMAGE the Glider image (default localhost/glider:0.1.0, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export GLIDER_LOOPBACK="${GLIDER_LOOPBACK:-127.0.10}"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-glider-local}"
[ -n "${CONTAINERS_CONF:-}" ] || export CONTAINERS_CONF="$PWD/deploy/podman/containers.conf"
compose_bin="$(command -v podman-compose || echo .venv/bin/podman-compose)"
[ -x "$compose_bin" ] || { echo "podman-compose missing: make install (dev extras)" >&2; exit 1; }
compose() { "$compose_bin" -f docker-compose.yml -f docker-compose.local.yml "$@"; }

wait_for() {  # URL SECONDS
  local deadline=$((SECONDS + $2))
  until python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "no answer from $1 within $2 s" >&2; return 1; fi
    sleep 0.5
  done
}

case "${1:-up}" in
  up)
    image="${GLIDER_IMAGE:-localhost/glider:0.1.0}"
    podman image exists "$image" || ./scripts/image.sh build "$image"
    for name in seaweedfs redis prometheus; do
      podman image exists "localhost/glider-standin-$name:r1" || { ./scripts/image.sh standins; break; }
    done
    compose up -d
    for url in "http://$GLIDER_LOOPBACK.21:8080/readyz" "http://$GLIDER_LOOPBACK.22:8080/readyz" \
               "http://$GLIDER_LOOPBACK.13:9090/-/ready"; do
      wait_for "$url" 120
    done
    echo "Glider: http://$GLIDER_LOOPBACK.21:8080 and http://$GLIDER_LOOPBACK.22:8080" \
         "(tokens: docker-compose.yml), Prometheus: http://$GLIDER_LOOPBACK.13:9090"
    ;;
  down) compose down -v -t 5 ;;
  ps) compose ps ;;
  logs) shift; compose logs "$@" ;;
  *) echo "usage: $0 up | down | ps | logs [SERVICE]" >&2; exit 2 ;;
esac
