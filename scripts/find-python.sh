#!/usr/bin/env bash
# Print a runnable path for the interpreter NAME (python3.12, python3, /usr/bin/python3.13...), or
# nothing and exit 1. A pyenv shim for a version that is installed but not selected refuses to run
# ("pyenv: python3.12: command not found"); the installed version's own binary is used then.
# Usage: scripts/find-python.sh NAME
set -uo pipefail
name="$1"
if command -v "$name" >/dev/null 2>&1 && "$name" -c 'import sys' >/dev/null 2>&1; then
  "$name" -c 'import sys; print(sys.executable)'
  exit 0
fi
if command -v pyenv >/dev/null 2>&1 && [[ "$name" =~ ^python([23]\.[0-9]+)$ ]]; then
  minor="${BASH_REMATCH[1]}"
  root="$(pyenv root)"
  for version in $(pyenv versions --bare 2>/dev/null | grep -E "^${minor//./\\.}(\.[0-9]+)?$" | sort -rV); do
    candidate="$root/versions/$version/bin/$name"
    if [ -x "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      echo "$candidate"
      exit 0
    fi
  done
fi
exit 1
