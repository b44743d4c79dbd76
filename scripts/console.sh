#!/usr/bin/env bash
# Set up (first run only) and start the console on its defaults: the built-in firmware
# simulator and a local SQLite database. Extra arguments go to the console.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MICROCURRENT_GUI=1 EXTRAS=postgres source "$ROOT/scripts/_setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/main.py" "$@"
