"""Workspaces: switching from the toolbar and shortcuts, and each remembers its layout."""

from __future__ import annotations

from access import unlock_bench
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget

from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


def _window(qtbot, path) -> MainWindow:
    w = MainWindow(DeviceManager(), QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    unlock_bench()
    return w


def test_toolbar_and_shortcuts_switch_workspaces(qtbot, tmp_path):
    w = _window(qtbot, tmp_path / "s.ini")
    w.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)  # window shortcuts need it active
    assert [a.text() for a in w.workspace_actions.actions()] == [
        "Practitioner", "Trainer", "Technician"]
    assert w.current_workspace().name == "practitioner"
    w.workspace_actions.actions()[1].trigger()
    assert w.current_workspace().name == "trainer"
    qtbot.keyClick(w, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert w.current_workspace().name == "technician"
    assert [a.isChecked() for a in w.workspace_actions.actions()] == [False, False, True]
    # the emergency stop stays on screen in every workspace
    for name in ("practitioner", "trainer", "technician"):
        assert w.switch_workspace(name)
        assert w.estop_button.isVisible()
    w.close()


def test_each_workspace_remembers_its_layout(qtbot, tmp_path):
    ini = tmp_path / "s.ini"
    w = _window(qtbot, ini)
    w.show()
    assert w.switch_workspace("technician")
    tech = w.workspaces["technician"]
    dock = tech.findChild(QDockWidget, "technician_output")
    assert tech.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
    tech.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    w.close()

    again = _window(qtbot, ini)
    tech2 = again.workspaces["technician"]
    dock2 = tech2.findChild(QDockWidget, "technician_output")
    assert tech2.dockWidgetArea(dock2) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("window/workspace") == \
        "technician"
    # ...but the console never opens on the PIN-protected bench by itself
    assert again.current_workspace().name == "practitioner"
    again.close()


def test_the_console_fits_a_laptop_screen_and_stop_stays_in_view(qtbot, tmp_path):
    """At 1280 x 800 (the default size) nothing makes the window grow past what it was
    given; smaller, the workspace scrolls inside it and STOP stays on screen."""
    from app.store.runtime import start_store

    device = DeviceManager()
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    w = MainWindow(device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                   store)
    qtbot.addWidget(w)
    unlock_bench()
    try:
        w.resize(1280, 800)
        w.show()
        with qtbot.waitSignal(w.live_data_seen, timeout=15000):
            device.open(None)
        desk = w.workspaces["practitioner"]
        qtbot.waitUntil(lambda: desk.guided is not None, timeout=5000)
        for name in ("technician", "trainer", "practitioner"):
            assert w.switch_workspace(name)
            qtbot.waitUntil(lambda: w.size().width() == 1280, timeout=2000)
            assert (w.size().width(), w.size().height()) == (1280, 800), name
            stop = w.estop_button
            corner = stop.mapTo(w, stop.rect().bottomRight())
            assert w.rect().contains(corner), name
        # the desk (with its treatment panel) fits the width: no sideways scrolling, even
        # with the wider bench built
        bar = w.stack_scroll.horizontalScrollBar()
        qtbot.waitUntil(lambda: bar.maximum() == 0, timeout=2000)
        assert desk.session_dock.isVisible()
        # a small screen: the window takes it, the workspace scrolls, STOP stays in view
        w.resize(900, 600)
        qtbot.waitUntil(lambda: w.size().width() == 900, timeout=2000)
        assert w.size().height() == 600
        qtbot.waitUntil(lambda: w.stack_scroll.verticalScrollBar().maximum() > 0,
                        timeout=2000)
        corner = w.estop_button.mapTo(w, w.estop_button.rect().bottomRight())
        assert w.rect().contains(corner)
        assert w.estop_button.isVisible()
    finally:
        device.close()
        w.close()
        for ws in w.workspaces.built():
            ws.shutdown()
        store.close(10)
