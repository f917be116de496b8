#!/usr/bin/env bash
# Make sure VENV is a virtualenv of interpreter PY with Glider installed: `runtime` (pip install -e .)
# or `dev` (pip install -e '.[dev]': the test and lint tools too).
# Usage: scripts/venv.sh PY VENV runtime|dev
#
# The venv records which interpreter built it (its python reports it); asking for another one rebuilds
# it, so a first attempt with the wrong Python does not trap later ones. Stamps carry the profile
# and a hash of pyproject.toml, so `make run` never pays for the test tools and a dependency change
# reinstalls.
set -euo pipefail
py="$1" venv="$2" profile="$3"
cd "$(dirname "$0")/.."

resolved="$(./scripts/find-python.sh "$py")" || {
  echo "make: PY=$py: no such interpreter (Glider needs Python 3.11, 3.12 or 3.13, e.g. PY=python3.12)" >&2
  exit 2
}
# Any Python (2.7 too) can say its version; only a supported one is asked for more.
version="$("$resolved" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || echo unknown)"
case "$version" in
  3.11.* | 3.12.* | 3.13.*) ;;
  *)
    echo "make: PY=$py is Python $version; Glider needs 3.11, 3.12 or 3.13 (e.g. make run PY=python3.12)" >&2
    exit 2
    ;;
esac
# An interpreter's identity: its installation and full version. A venv's own python reports its
# base interpreter's, so the venv itself records which one built it.
probe='import sys; print(sys.base_prefix, "%d.%d.%d" % sys.version_info[:3])'
identity="$("$resolved" -c "$probe")"

if [ -d "$venv" ]; then
  built_for="$("$venv/bin/python" -c "$probe" 2>/dev/null || echo "a missing interpreter")"
  if [ "$built_for" != "$identity" ]; then
    echo "rebuilding $venv for Python $version (PY=$py; it was built for $built_for)" >&2
    rm -rf "$venv"
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  "$resolved" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi

hash="$(sha256sum pyproject.toml | cut -c1-12)"
stamp="$venv/.installed-$profile-$hash"
[ -e "$stamp" ] && exit 0
# A dev install covers the runtime one; a runtime stamp never stands for dev.
[ "$profile" = "runtime" ] && [ -e "$venv/.installed-dev-$hash" ] && exit 0
if [ "$profile" = "dev" ]; then
  "$venv/bin/pip" install -q -e '.[dev]'
else
  "$venv/bin/pip" install -q -e .
fi
rm -f "$venv"/.installed-*
touch "$stamp"
[ "$profile" = "dev" ] && touch "$venv/.installed-runtime-$hash"
exit 0
