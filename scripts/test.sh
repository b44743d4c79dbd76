#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, offscreen. The store's tests
# also run against a real PostgreSQL server that the test fixture starts in a temporary
# folder; this installs the server's package when it is missing (Debian/Ubuntu), and
# poppler-utils for the PDF report's checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS=test source "$ROOT/scripts/_setup.sh"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
# the session report's test turns the PDF into text and images (pdftotext, pdftoppm)
if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
  apt_install poppler-utils
fi
export QT_QPA_PLATFORM=offscreen
# The test modules as pytest rewrites them (its assertion rewriting), cached once here:
# otherwise, where PYTHONDONTWRITEBYTECODE is set (this machine), each of the workers
# rewrites all of them again as it collects (about 4.5 s of CPU each, on two cores).
# 7 s the first time, 2 s when the cache is up to date (an error in a test module shows
# in the run itself).
PYTHONDONTWRITEBYTECODE= "$ROOT/.venv/bin/python" -m pytest --collect-only -q \
  -p no:cacheprovider "$ROOT/tests" >/dev/null 2>&1 || true
# Four worker processes (pytest-xdist), each test file whole on one of them (its module
# fixtures set up once; each worker starts its own PostgreSQL cluster and simulators).
# Much of the suite waits on a device in real time, so on two cores more workers than
# cores overlap those waits: 2,023 tests took 172 s with three, 152-158 s with four and
# 168 s with five (docs/performance.md, Test suite).
# `-n 0` after the command runs everything in this one process, as does running pytest
# directly on a few files (what you do while working on them).
exec "$ROOT/.venv/bin/python" -m pytest -n 4 --dist loadfile "$@"
