"""Workspaces: switching from the toolbar and shortcuts, and each remembers its layout."""

from __future__ import annotations

from access import unlock_bench
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget

from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


def _tooltip_text(tip: str) -> str:
    """What a tooltip shows (it may be rich text)."""
    from PySide6.QtGui import QTextDocumentFragment

    return QTextDocumentFragment.fromHtml(tip).toPlainText()


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
        "Practitioner",
        "Trainer",
        "Technician",
    ]
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
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("window/workspace") == "technician"
    # ...but the console never opens on the PIN-protected bench by itself
    assert again.current_workspace().name == "practitioner"
    again.close()


def test_the_console_fits_a_laptop_screen_and_stop_stays_in_view(qtbot, tmp_path):
    """At 1280 x 800 (the default size) nothing makes the window grow past what it was
    given; smaller, the workspace scrolls inside it and STOP stays on screen."""
    from app.store.runtime import start_store

    device = DeviceManager()
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    w = MainWindow(device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store)
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
        qtbot.waitUntil(lambda: w.stack_scroll.verticalScrollBar().maximum() > 0, timeout=2000)
        corner = w.estop_button.mapTo(w, w.estop_button.rect().bottomRight())
        assert w.rect().contains(corner)
        assert w.estop_button.isVisible()
    finally:
        device.close()
        w.close()
        for ws in w.workspaces.built():
            ws.shutdown()
        store.close(10)


def test_the_window_fits_the_available_screen_frame_included(qtbot, tmp_path):
    """1280 x 800 *including* the title bar and a panel: the window's frame lies inside the
    screen's available geometry, so the status bar is never off-screen; a window saved on
    a bigger screen shrinks to fit; a roomy screen keeps the default 1280 x 800."""
    from PySide6.QtCore import QMargins, QRect

    ini = tmp_path / "s.ini"
    w = _window(qtbot, ini)
    frame = QMargins(2, 25, 2, 2)  # an openbox-like title bar and borders
    w.move(0, 0)
    w.fit_to_screen(QRect(0, 0, 1280, 800), frame)
    assert (w.width(), w.height()) == (1276, 773)
    outer = w.geometry().marginsAdded(frame)
    assert QRect(0, 0, 1280, 800).contains(outer), outer
    # a panel at the top takes 30 px: the window moves below it and shrinks
    available = QRect(0, 30, 1280, 770)
    w.fit_to_screen(available, frame)
    assert available.contains(w.geometry().marginsAdded(frame))
    # shown (no window manager here: the frame is the window itself)
    w.show()
    w.fit_to_screen(available)
    assert available.contains(w.frameGeometry()), w.frameGeometry()
    w.close()
    # a geometry saved on a 1920 x 1080 screen is fitted to this one
    big = _window(qtbot, tmp_path / "big.ini")
    big.resize(1900, 1000)
    big.move(10, 10)
    big.fit_to_screen(QRect(0, 0, 1280, 800), frame)
    assert QRect(0, 0, 1280, 800).contains(big.geometry().marginsAdded(frame))
    # a roomy screen: the default size, untouched
    roomy = _window(qtbot, tmp_path / "roomy.ini")
    roomy.fit_to_screen(QRect(0, 0, 1920, 1080), frame)
    assert (roomy.width(), roomy.height()) == (1280, 800)


def test_at_1280x800_stop_the_status_bar_and_the_run_buttons_stay_in_view(qtbot, tmp_path):
    """The window fitted to a 1280 x 800 screen with a title bar, the console's style sheet
    applied: STOP, the status bar, the step card and Start/Pause/Stop are in view on every
    step of the full-face program, without the workspace scrolling; the rows under the card
    keep their height from step to step."""
    from PySide6.QtCore import QMargins, QRect
    from PySide6.QtWidgets import QApplication

    from app.engine.session import SessionState
    from app.store.runtime import start_store
    from app.ui.style import STYLE_SHEET

    app = QApplication.instance()
    app.setStyleSheet(STYLE_SHEET)
    device = DeviceManager()
    store = start_store(f"sqlite:///{tmp_path / 'r.db'}")
    w = MainWindow(device, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), store)
    qtbot.addWidget(w)
    try:
        w.fit_to_screen(QRect(0, 0, 1280, 800), QMargins(2, 25, 2, 2))
        w.show()
        with qtbot.waitSignal(w.live_data_seen, timeout=15000):
            device.open(None)
        desk = w.workspaces["practitioner"]
        qtbot.waitUntil(
            lambda: desk.controller is not None and desk.controller.state == SessionState.READY,
            timeout=8000,
        )
        guided = desk.guided
        # a client's long name (75 characters, emoji, Hebrew, markup) never pushes the
        # treatment panel off the screen: it is elided, whole in its tooltip
        long_name = "Ann-Sophie " + "Verylongfamilyname-" * 3 + " 😀 שלום <b>bold</b> Ω" * 2
        desk.client_label.setText(long_name)

        def in_view(widget, within) -> bool:
            top_left = widget.mapTo(within, widget.rect().topLeft())
            bottom_right = widget.mapTo(within, widget.rect().bottomRight())
            return within.rect().contains(top_left) and within.rect().contains(bottom_right)

        viewport = guided.parentWidget().parentWidget()  # the treatment panel's scroll view
        steps = desk.programs[desk.program_box.currentData()].steps
        gaps = set()  # Skip and Start below the card: the same on every step
        for n in range(len(steps)):
            qtbot.wait(50)
            assert w.stack_scroll.verticalScrollBar().maximum() == 0, n
            assert w.stack_scroll.horizontalScrollBar().maximum() == 0, n
            for widget in (w.estop_button, w.statusBar()):
                assert in_view(widget, w), (n, widget)
            for widget in (
                guided.card,
                guided.start_button,
                guided.pause_button,
                guided.stop_button,
            ):
                assert in_view(widget, viewport), (n, steps[n].name, widget)
            gaps.add(
                tuple(
                    b.mapTo(guided, b.rect().topLeft()).y() - guided.card.geometry().bottom()
                    for b in (guided.skip_button, guided.start_button)
                )
            )
            if n + 1 < len(steps):
                guided.skip_button.click()
                qtbot.waitUntil(
                    lambda n=n: desk.controller.guided_view().step_index == n + 1, timeout=2000
                )
        assert len(gaps) == 1, gaps  # a long "Next:" name does not push the buttons down
        assert desk.client_label.text() == long_name
        assert _tooltip_text(desk.client_label.toolTip()) == long_name  # as written
        # a custom program's long name in the treatment panel: nothing leaves the screen
        guided.program.setText("Lifting " + "for very sensitive mature skin " * 4)
        qtbot.wait(50)
        assert w.stack_scroll.horizontalScrollBar().maximum() == 0
        for widget in (guided.countdown, guided.start_button, guided.stop_button):
            assert in_view(widget, viewport), widget
        # the records tab beside the treatment panel: every record tab's title whole
        desk.tabs.setCurrentIndex(1)
        records = desk.records
        assert records is not None
        qtbot.waitUntil(records.isVisible, timeout=2000)
        qtbot.wait(50)
        bar = records.tabs.tabBar()
        for i in range(bar.count()):
            assert bar.tabRect(i).width() >= bar.tabSizeHint(i).width(), bar.tabText(i)
            assert bar.tabRect(i).right() < records.tabs.width(), bar.tabText(i)
        assert w.stack_scroll.horizontalScrollBar().maximum() == 0
    finally:
        app.setStyleSheet("")
        device.close()
        w.close()
        for ws in w.workspaces.built():
            ws.shutdown()
        store.close(10)


def test_the_bench_fits_1280_pixels_without_scrolling_sideways(qtbot, tmp_path):
    """The bench's scope rows (scales, trigger level, holdoff, verdicts; cursors and the
    spectrum) and the manual output dock fit a 1280-pixel window."""
    w = _window(qtbot, tmp_path / "s.ini")
    w.resize(1280, 800)
    w.show()
    assert w.switch_workspace("technician")
    qtbot.wait(50)
    bench = w.workspaces["technician"]
    assert bench.minimumSizeHint().width() <= w.stack_scroll.viewport().width()
    assert w.stack_scroll.horizontalScrollBar().maximum() == 0


def test_a_window_restores_its_size_but_a_screenshot_is_of_the_default_size(
    qtbot, tmp_path, monkeypatch
):
    """An operator's window comes back at the size it was closed at; a ``--screenshot``
    picture (no screen fitting) is always 1280 x 800, whatever an earlier window left."""
    # (this offscreen screen is 800 pixels wide: the sizes, not the fitting, are tested)
    monkeypatch.setattr(MainWindow, "fit_to_screen", lambda self, *a, **k: None)
    ini = tmp_path / "s.ini"
    w = _window(qtbot, ini)
    w.resize(800, 580)
    w.show()
    w.close()  # saves the geometry
    operator = MainWindow(
        DeviceManager(), QSettings(str(ini), QSettings.Format.IniFormat), fit_screen=True
    )
    qtbot.addWidget(operator)
    assert (operator.width(), operator.height()) == (800, 580)
    picture = _window(qtbot, ini)
    assert (picture.width(), picture.height()) == (1280, 800)


def test_at_1280x800_the_clinic_limits_error_and_save_stay_in_view(qtbot, tmp_path):
    """The bench's Clinic limits at 1280 x 800 (title bar and the console's style sheet),
    with the emergency-stop banner showing: the workspace does not scroll, and Save
    limits, Revert and the message beside them — a check's error, a conflict — are on
    screen (the zone table gives way)."""
    from PySide6.QtCore import QMargins, QRect
    from PySide6.QtWidgets import QApplication

    from app.ui.style import STYLE_SHEET

    app = QApplication.instance()
    app.setStyleSheet(STYLE_SHEET)
    try:
        w = _window(qtbot, tmp_path / "s.ini")
        w.fit_to_screen(QRect(0, 0, 1280, 800), QMargins(2, 25, 2, 2))
        w.show()
        assert w.switch_workspace("technician")
        bench = w.workspaces["technician"].bench
        panel = bench.clinic
        bench.tabs.setCurrentWidget(panel)
        w.show_alarm("Emergency stop latched: press Reset device", kind="estop")
        panel.spins["eye_area_max_ua"].setValue(700)  # above the clinic maximum
        qtbot.waitUntil(lambda: w.banner.isVisible() and panel.isVisible(), timeout=2000)
        qtbot.wait(50)
        assert "cannot be above the clinic maximum" in panel.message.text()

        def in_view(widget) -> bool:
            top_left = widget.mapTo(w, widget.rect().topLeft())
            bottom_right = widget.mapTo(w, widget.rect().bottomRight())
            inside = w.stack_scroll.viewport()
            area = QRect(inside.mapTo(w, inside.rect().topLeft()), inside.size())
            return area.contains(top_left) and area.contains(bottom_right)

        assert w.stack_scroll.verticalScrollBar().maximum() == 0
        for widget in (panel.save_button, panel.revert_button, panel.message):
            assert widget.isVisible()
            assert in_view(widget), widget
        # a long message (a conflict lists stored and typed values) still fits
        panel.message.setText("\n".join(["Stored now: Maximum current 120 µA."] * 5))
        qtbot.wait(50)
        assert w.stack_scroll.verticalScrollBar().maximum() == 0
        assert in_view(panel.message)
        assert in_view(panel.save_button)
    finally:
        app.setStyleSheet("")
        for ws in w.workspaces.built():
            ws.shutdown()
