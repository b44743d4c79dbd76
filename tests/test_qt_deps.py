"""The check scripts/_setup.sh runs before opening a real window (app/ui/qt_deps.py): ldd on
Qt's platform plugin and libraries, each missing library named by its Debian package."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ui import qt_deps

ROOT = Path(__file__).resolve().parent.parent

# ldd on libqxcb.so on a bare Debian 12 machine (the report in issue 17), abridged.
FAKE_LDD = """\
\tlinux-vdso.so.1 (0x00007ffd3c5f9000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x7f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => not found
\tlibX11-xcb.so.1 => not found
\tlibglib-2.0.so.0 => not found
\tlibEGL.so.1 => /lib/x86_64-linux-gnu/libEGL.so.1 (0x00007f0c5d7d2000)
\tlibdbus-1.so.3 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c5c000000)
"""


def test_nothing_is_missing_for_the_offscreen_plugin_here():
    files = qt_deps.qt_binaries("offscreen")
    names = {f.name for f in files}
    assert "libqoffscreen.so" in names
    assert {"libQt6Core.so.6", "libQt6Gui.so.6", "libQt6Widgets.so.6"} <= names
    assert qt_deps.missing_packages("offscreen") == ([], [])


def test_the_xcb_check_covers_the_plugin_and_what_it_loads():
    names = {f.name for f in qt_deps.qt_binaries("xcb")}
    assert {"libqxcb.so", "libqxcb-glx-integration.so", "libQt6Gui.so.6"} <= names


def test_fake_ldd_report_names_the_right_packages(tmp_path):
    plugin = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    plugin.parent.mkdir(parents=True)
    plugin.touch()
    seen = []

    def fake_ldd(path):
        seen.append(path)
        return FAKE_LDD

    libraries, packages = qt_deps.missing_packages("xcb", qt=tmp_path, ldd=fake_ldd)
    assert seen == [plugin]
    assert libraries == [
        "libX11-xcb.so.1",
        "libdbus-1.so.3",
        "libglib-2.0.so.0",
        "libxcb-cursor.so.0",
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]
    assert packages == [
        "libdbus-1-3",
        "libglib2.0-0",
        "libx11-xcb1",
        "libxcb-cursor0",
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libxkbcommon-x11-0",
    ]


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libEGL.so.1", "libegl1"),
        ("libX11.so.6", "libx11-6"),
        ("libpng16.so.16", "libpng16-16"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libgssapi_krb5.so.2", "libgssapi-krb5-2"),
        ("libharfbuzz.so.0", "libharfbuzz0b"),
        ("libgthread-2.0.so.0", "libglib2.0-0"),
        ("libz.so.1", "zlib1g"),
        ("libfreetype.so.6.18.3", "libfreetype6"),
    ],
)
def test_debian_package_names(soname, package):
    assert qt_deps.debian_package(soname) == package


def test_command_line_lists_packages_for_scripts(capsys):
    assert qt_deps.main(["--packages", "offscreen"]) == 0
    assert capsys.readouterr().out == ""
    assert qt_deps.main(["offscreen"]) == 0
    assert "finds every library" in capsys.readouterr().out


def test_setup_runs_the_check_before_a_real_window():
    setup = (ROOT / "scripts" / "_setup.sh").read_text()
    assert "-m app.ui.qt_deps --packages xcb" in setup
    assert "MICROCURRENT_GUI=1" in (ROOT / "scripts" / "console.sh").read_text()
