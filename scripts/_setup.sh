#!/usr/bin/env bash
# Shared set-up for scripts/console.sh and scripts/test.sh: checks Python >= 3.11,
# installs the few system libraries Qt needs (Debian/Ubuntu, when run as root or with
# sudo), creates .venv and installs the locked dependencies into it (exact versions, every
# file checked against its hash: requirements/lock-test.txt for EXTRAS=test, else
# requirements/lock.txt; refreshed with scripts/lock.sh), then the project itself. Safe to
# run again: it only reinstalls when pyproject.toml or the lock file has changed. For a
# real window (MICROCURRENT_GUI, set by console.sh) it then finds with ldd what Qt's xcb
# platform plugin lacks and installs those packages too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11 or newer (or set PYTHON=/path/to/python)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: $("$PY" --version 2>&1) is too old; Microcurrent Console needs Python >= 3.11" >&2
  exit 1
fi

apt_install() {  # apt_install PKG... : install Debian packages if we can, else explain
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "note: please install these system packages: $*" >&2; return 0; fi
  fi
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: $*" >&2
    $sudo apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  else
    echo "note: please install the equivalents of: $*" >&2
  fi
}

# Qt's libraries need these at run time (present on any desktop; not on a bare server).
missing=()
LDCONFIG="$(command -v ldconfig || echo /sbin/ldconfig)"  # not on a user's PATH on Debian
have_lib() { "$LDCONFIG" -p 2>/dev/null | grep -q "$1"; }
have_lib libEGL.so.1 || missing+=(libegl1)
have_lib libGL.so.1 || missing+=(libgl1)
have_lib libxkbcommon.so.0 || missing+=(libxkbcommon0)
have_lib libfontconfig.so.1 || missing+=(libfontconfig1)
have_lib libdbus-1.so.3 || missing+=(libdbus-1-3)
have_lib libglib-2.0.so.0 || missing+=(libglib2.0-0)
if [ -n "${MICROCURRENT_GUI:-}" ]; then
  have_lib libxcb-cursor.so.0 || missing+=(libxcb-cursor0)
  have_lib libxkbcommon-x11.so.0 || missing+=(libxkbcommon-x11-0)
fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("python3-venv")
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ "${EXTRAS:-}" = test ]; then LOCK="requirements/lock-test.txt"; else LOCK="requirements/lock.txt"; fi
STAMP="$VENV/.installed-$(cat pyproject.toml "$LOCK" | sha1sum | cut -c1-12)-${EXTRAS:-base}"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK"
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
# The project's own modules compiled to bytecode, as pip does for an installed package
# (an editable install does not): every process of the console and of the tests loads
# them instead of compiling them again (about 0.2 s of CPU at each start), also where
# PYTHONDONTWRITEBYTECODE is set. Only files changed since are compiled (0.1 s otherwise).
"$VENV/bin/python" -m compileall -q -j 0 app >/dev/null || true

# A real window (scripts/console.sh, or MICROCURRENT_GUI set): ldd on Qt's xcb platform
# plugin and the Qt libraries names each system library they lack and its Debian package
# (app/ui/qt_deps.py; tests/test_qt_deps.py runs the same check for the offscreen plugin).
if [ -n "${MICROCURRENT_GUI:-}" ] && command -v ldd >/dev/null 2>&1; then
  qt_packages="$("$VENV/bin/python" -m app.ui.qt_deps --packages xcb)" || qt_packages=""
  if [ -n "$qt_packages" ]; then
    # shellcheck disable=SC2086  # one package a line
    apt_install $qt_packages
    "$VENV/bin/python" -m app.ui.qt_deps xcb >&2 || true  # still lacking: say what
  fi
fi
