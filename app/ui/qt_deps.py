"""Which system libraries Qt's platform plugin lacks here, and the Debian packages that hold them.

PySide6's wheels carry Qt itself but not the system libraries its plugins link against (the
X11/xcb helpers, EGL, fontconfig…): on a bare Debian machine the console's window cannot
open ("could not load the Qt platform plugin xcb") until they are installed. This runs
``ldd`` on the platform plugin and the Qt libraries the console loads, collects every
"not found" library and names its Debian package (a table for the irregular names, the
Debian naming rule for the rest). Imports no Qt: it works where Qt cannot load.

``scripts/_setup.sh`` runs it when the console opens a real window
(``python -m app.ui.qt_deps --packages xcb``) and installs what it names;
``tests/test_qt_deps.py`` runs the same check for the offscreen plugin the tests use.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

# The Qt libraries the console loads (PySide6 QtCore, QtGui, QtWidgets, QtSvg; Gui needs DBus).
QT_LIBRARIES = (
    "libQt6Core.so.6",
    "libQt6Gui.so.6",
    "libQt6Widgets.so.6",
    "libQt6Svg.so.6",
    "libQt6DBus.so.6",
)
# Loaded by a platform plugin at run time beside it (not linked, so not in its ldd).
PLUGIN_EXTRAS = {
    "xcb": (
        "xcbglintegrations/libqxcb-glx-integration.so",
        "xcbglintegrations/libqxcb-egl-integration.so",
    )
}

# Sonames whose Debian package does not follow the naming rule (debian_package()).
PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libgmodule-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libharfbuzz.so.0": "libharfbuzz0b",
    "libz.so.1": "zlib1g",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libGLdispatch.so.0": "libglvnd0",
    "libnss3.so": "libnss3",
    "libnssutil3.so": "libnss3",
    "libsmime3.so": "libnss3",
    "libnspr4.so": "libnspr4",
    "libplc4.so": "libnspr4",
    "libplds4.so": "libnspr4",
    "libasound.so.2": "libasound2",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_SONAME = re.compile(r"^(lib.+?)\.so\.(\d+)(?:\.\d+)*$")


def qt_dir() -> Path | None:
    """PySide6's Qt folder (``…/site-packages/PySide6/Qt``), found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        qt = Path(location) / "Qt"
        if qt.is_dir():
            return qt
    return None


def qt_binaries(platform: str = "xcb", qt: Path | None = None) -> list[Path]:
    """The platform plugin ``libq<platform>.so``, what it loads beside it, and the Qt
    libraries the console loads: the files whose dependencies must all be found."""
    qt = qt or qt_dir()
    if qt is None:
        raise FileNotFoundError("PySide6 is not installed")
    plugins = qt / "plugins"
    files = [plugins / "platforms" / f"libq{platform}.so"]
    files += [plugins / extra for extra in PLUGIN_EXTRAS.get(platform, ())]
    files += [qt / "lib" / name for name in QT_LIBRARIES]
    return [f for f in files if f.exists()]


def run_ldd(path: Path) -> str:
    """``ldd``'s report on ``path`` (standard output; empty when ldd cannot tell)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        raise FileNotFoundError("ldd is not installed")
    result = subprocess.run(
        [ldd, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout


def parse_ldd(report: str) -> set[str]:
    """The sonames ``ldd`` reported as "not found"."""
    return set(_NOT_FOUND.findall(report))


def missing_libraries(paths: Iterable[Path], ldd: Callable[[Path], str] = run_ldd) -> list[str]:
    """Every library one of ``paths`` needs that the dynamic linker cannot find, sorted."""
    missing: set[str] = set()
    for path in paths:
        missing |= parse_ldd(ldd(path))
    return sorted(missing)


def debian_package(soname: str) -> str:
    """The Debian package that ships ``soname``: the table above, else Debian's rule for
    shared-library packages — the library's name in lower case with its major version
    appended, after a hyphen when the name ends in a digit (``libxcb-icccm.so.4`` →
    ``libxcb-icccm4``, ``libX11.so.6`` → ``libx11-6``, ``libdbus-1.so.3`` →
    ``libdbus-1-3``); underscores become hyphens."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    m = _SONAME.match(soname)
    if m is None:  # no version: the name itself (``libfoo.so`` → ``libfoo``)
        return soname.split(".so")[0].lower().replace("_", "-")
    name, major = m.group(1).lower().replace("_", "-"), m.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_packages(
    platform: str = "xcb", qt: Path | None = None, ldd: Callable[[Path], str] = run_ldd
) -> tuple[list[str], list[str]]:
    """(missing libraries, the Debian packages to install for them) for ``platform``."""
    libraries = missing_libraries(qt_binaries(platform, qt), ldd)
    return libraries, sorted({debian_package(lib) for lib in libraries})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.ui.qt_deps",
        description="List the system libraries Qt's platform plugin lacks on this machine "
        "and the Debian packages that ship them.",
    )
    parser.add_argument(
        "platform",
        nargs="?",
        default="xcb",
        help="Qt platform plugin (default xcb: a real window on X11)",
    )
    parser.add_argument(
        "--packages", action="store_true", help="print only the packages, one a line (for scripts)"
    )
    args = parser.parse_args(argv)
    try:
        libraries, packages = missing_packages(args.platform)
    except FileNotFoundError as exc:
        print(f"qt_deps: cannot check: {exc}", file=sys.stderr)
        return 2
    if args.packages:
        for package in packages:
            print(package)
        if libraries:
            print(f"Qt's {args.platform} plugin lacks {', '.join(libraries)}", file=sys.stderr)
        return 0
    if not libraries:
        print(f"Qt's {args.platform} plugin finds every library it needs.")
        return 0
    print(f"Qt's {args.platform} plugin lacks: {' '.join(libraries)}")
    print(f"Debian packages: {' '.join(packages)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
