#!/usr/bin/env bash
# Refreshes the locked dependencies (exact versions with their hashes) that
# scripts/_setup.sh installs from:
#   requirements/lock-test.txt  the test suite: dependencies + the "test" extra (scripts/test.sh)
#   requirements/lock.txt       the console: dependencies + the "postgres" extra (scripts/console.sh)
# resolved for CPython 3.11 on Linux x86_64 (glibc 2.36, Debian 12) from PyPI, with uv.
#
#   bash scripts/lock.sh                            # after editing pyproject.toml: keeps every
#                                                   # pin that still fits, adds what is new
#   bash scripts/lock.sh --upgrade-package pyqtgraph  # move one package to its newest allowed
#   bash scripts/lock.sh --upgrade                  # move everything (then run the whole suite)
#
# Arguments go to `uv pip compile`. A PySide6 upgrade lands only once tests/test_soak.py
# passes on it (docs/architecture.md, "Locked dependencies").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.9"
TOOLS="$ROOT/.venv/lock-tools"  # uv in a venv of its own, never in the project's
if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "${PYTHON:-python3}" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
compile() {  # compile OUT EXTRA [ARGS...]
  local out="$1" extra="$2"; shift 2
  "$TOOLS/bin/uv" pip compile pyproject.toml --quiet --extra "$extra" --generate-hashes \
    --python-version 3.11 --python-platform x86_64-manylinux_2_36 \
    --index-url https://pypi.org/simple --no-emit-index-url \
    --custom-compile-command "bash scripts/lock.sh" -o "$out" "$@"
}
mkdir -p requirements
compile requirements/lock-test.txt test "$@"
# The console's lock takes the test lock's versions: the stack the suite ran is what ships.
compile requirements/lock.txt postgres -c requirements/lock-test.txt "$@"
echo "locked: requirements/lock-test.txt, requirements/lock.txt"
