"""What keeps an idle console cheap (issue 17, docs/performance.md): the status bar's
labels change only when what they say changes. Mechanisms, not timings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer

from app.device.protocol import DeviceState, Fault, Status
from app.device.stats import LinkStats
from app.ui.device_manager import DeviceManager
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    w.close()


def _status(ohm: float, *, contact: bool = True, uptime_ms: int = 0) -> Status:
    return Status(DeviceState.IDLE, 0.0, 0.0, ohm, contact, False, Fault.NONE, 0.0, uptime_ms)


def _count_set_text(label) -> list[str]:
    calls: list[str] = []
    real = label.setText

    def counted(text: str) -> None:
        calls.append(text)
        real(text)

    label.setText = counted
    return calls


def test_ten_reports_a_second_of_an_idle_device_do_not_touch_the_status_labels(window):
    window._on_status(_status(22_040.0))
    assert "22.0 kΩ" in window.contact_label.text()
    contact = _count_set_text(window.contact_label)
    state = _count_set_text(window.state_label)
    # the load's noise moves the impedance by less than 3 %: the label holds still
    for i, ohm in enumerate((22_060.0, 21_980.0, 22_110.0, 22_040.0, 21_900.0) * 4):
        window._on_status(_status(ohm, uptime_ms=100 * i))
    assert contact == []
    assert state == []
    assert "22.0 kΩ" in window.contact_label.text()
    # a real change is shown at once, and so is the probes' lifting
    window._on_status(_status(30_000.0))
    assert "30.0 kΩ" in window.contact_label.text()
    window._on_status(_status(float("inf"), contact=False))
    assert "NO CONTACT" in window.contact_label.text()
    assert len(contact) == 2
    window._on_status(_status(22_040.0))  # back: the new reading, not the old one held
    assert "22.0 kΩ" in window.contact_label.text()


class _Link:
    """What the status bar reads of a link: connected, and its statistics."""

    is_connected = True

    def __init__(self) -> None:
        self.stats = LinkStats(connected=True, last_frame_age_s=0.01)


def _stats(frames: float, kbytes: float, **kw) -> LinkStats:
    return LinkStats(
        connected=True,
        frames_per_s=frames,
        bytes_per_s=kbytes * 1000,
        last_frame_age_s=kw.pop("age", 0.01),
        **kw,
    )


def test_the_link_figures_jittering_by_some_percent_leave_the_status_bar_alone(window):
    window._link = _Link()
    window._refresh_link_label(_stats(200.0, 46.1))
    assert "200 frames/s · 46.1 kB/s" in window.link_label.text()
    calls = _count_set_text(window.link_label)
    # twice a second, an idle stream's frame rate moves by up to 8 % (reads gather about
    # ten frames): nothing to repaint
    for frames, kbytes in ((216.0, 46.3), (186.0, 45.8), (209.0, 46.9), (193.0, 45.4)) * 5:
        window._refresh_link_label(_stats(frames, kbytes))
    assert calls == []
    # an error, a real change of rate: shown at once
    window._refresh_link_label(_stats(199.0, 46.0, crc_errors=1))
    assert "errors 1" in window.link_label.text()
    window._refresh_link_label(_stats(1000.0, 230.0, crc_errors=1))
    assert "1000 frames/s · 230.0 kB/s" in window.link_label.text()
    assert len(calls) == 2


def test_a_talking_device_wakes_no_timer_and_a_silent_one_is_flagged(window):
    """No periodic timer checks the device's silence: each STATUS starts a single-shot
    one again, which fires only when the device stops talking."""
    link = window._link = _Link()
    own = window.findChildren(QTimer, options=Qt.FindChildOption.FindDirectChildrenOnly)
    running = [t for t in own if t.isActive() and not t.isSingleShot()]
    assert not running, [(type(t.parent()).__name__, t.interval()) for t in running]
    window._on_status(_status(22_040.0))
    assert window._silence.isActive()
    assert window._silence.isSingleShot()
    # silent: the timer fires, the banner says so; the next report takes it away
    link.stats = _stats(200.0, 46.1, age=0.8)
    window._silence.timeout.emit()
    assert window.banner.property("kind") == "stale"
    link.stats = _stats(200.0, 46.1)
    window._on_status(_status(22_040.0))
    assert window.banner.property("kind") != "stale"


def test_new_state_and_contact_figures_do_not_relayout_the_window(qtbot, window):
    """A status-bar label that may resize asks the window to lay itself out again (and
    repaint); the state and contact labels are fixed in size: only they repaint."""
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window._on_status(_status(22_040.0))
    qtbot.wait(50)  # the first layout settles
    requests: list[int] = []

    class Watch(QObject):
        def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.LayoutRequest:
                requests.append(1)
            return False

    watch = Watch()
    window.statusBar().installEventFilter(watch)
    running = [DeviceState.RAMP_UP, DeviceState.RUNNING, DeviceState.RAMP_DOWN]
    for k, ohm in enumerate((1_000.0, 150_000.0, 9_900_000.0, 35_000.0)):
        st = Status(running[k % 3], 100.0 + 37 * k, 200.0, ohm, True, k == 2, Fault.NONE, 0.0, k)
        window._on_status(st)
        qtbot.wait(20)
    window._on_status(_status(22_040.0, contact=False))
    qtbot.wait(20)
    assert "NO CONTACT" in window.contact_label.text()
    assert "RUNNING" not in window.state_label.text()
    assert requests == []
