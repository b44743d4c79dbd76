"""Live panels of the technician's bench: device information, link statistics, load."""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.device.event_history import MAX_ENTRIES, DeviceEventHistory, HistoryEntry
from app.device.protocol import Info, SampleFlag, Status
from app.device.samples import SampleBlock
from app.device.stats import LinkStats
from app.scope.core.measure import measure_arrays
from app.ui import style

HISTORY_POINTS = 120  # stats arrive about twice a second: one minute of history
LOAD_WINDOW_S = 0.25
DASH = "—"


def _value_label() -> QLabel:
    label = QLabel(DASH)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setMinimumWidth(90)
    return label


def si_ohm(z: float) -> str:
    if not math.isfinite(z):
        return "open (∞)"
    if z >= 1e6:
        return f"{z / 1e6:.3g} MΩ"
    if z >= 1e3:
        return f"{z / 1e3:.3g} kΩ"
    return f"{z:.3g} Ω"


class DeviceInfoPanel(QGroupBox):
    """What the device said about itself in INFO: identity, hard limits, scaling."""

    ROWS = (
        ("model", "Model"),
        ("serial", "Serial number"),
        ("firmware", "Firmware"),
        ("protocol", "Protocol version"),
        ("max_current", "Hard current limit"),
        ("frequency", "Frequency range"),
        ("compliance", "Compliance voltage"),
        ("rate", "Sample rate"),
        ("i_scale", "Current scaling"),
        ("v_scale", "Voltage scaling"),
        ("watchdog", "Watchdog"),
        ("frame", "Samples per frame"),
        ("port", "Port"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Device information", parent)
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self._values: dict[str, QLabel] = {}
        for key, label in self.ROWS:
            value = _value_label()
            value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self._values[key] = value
            form.addRow(label, value)
        self.state = QLabel("Not connected")
        self.state.setObjectName("banner")
        self.state.setWordWrap(True)
        form.addRow(self.state)
        self.set_info(None)

    def value(self, key: str) -> str:
        return self._values[key].text()

    def set_port(self, port: str) -> None:
        self._values["port"].setText(port or DASH)

    def set_connected(self, connected: bool, reason: str = "") -> None:
        if connected:
            self.state.setText("Connected")
            colour = style.OK
        else:
            self.state.setText(f"Not connected{': ' + reason if reason else ''}")
            colour = style.ALARM
        self.state.setStyleSheet(f"background:{colour};color:{palette.WHITE}")

    def set_info(self, info: Info | None) -> None:
        v = self._values
        if info is None:
            for key, _ in self.ROWS:
                if key != "port":
                    v[key].setText(DASH)
            return
        v["model"].setText(info.model)
        v["serial"].setText(info.serial)
        v["firmware"].setText(info.firmware)
        v["protocol"].setText(str(info.protocol_version))
        v["max_current"].setText(f"{info.max_current_ua:g} µA")
        v["frequency"].setText(f"{info.min_frequency_hz:g} – {info.max_frequency_hz:g} Hz")
        v["compliance"].setText(f"{info.compliance_v:g} V")
        v["rate"].setText(f"{info.sample_rate:,} samples/s")
        v["i_scale"].setText(f"{info.current_lsb_ua:g} µA per count")
        v["v_scale"].setText(f"{info.voltage_lsb_v * 1000:g} mV per count")
        v["watchdog"].setText(f"{info.watchdog_ms} ms without a host message")
        v["frame"].setText(f"up to {info.max_samples_per_frame}")


class LinkStatsPanel(QGroupBox):
    """Link health figures and a one-minute history chart."""

    FIELDS = (
        ("quality", "Link quality"),
        ("fps", "Frames / s"),
        ("bps", "Bytes / s"),
        ("frames", "Frames received"),
        ("age", "Last frame"),
        ("crc", "CRC errors"),
        ("framing", "Framing errors"),
        ("version", "Other-version frames"),
        ("bad", "Unparsable messages"),
        ("lost", "Frames lost (sequence)"),
        ("dropped", "Samples dropped"),
        ("sent", "Frames sent"),
        ("failed", "Commands failed"),
        ("connects", "Connections"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Link statistics", parent)
        layout = QVBoxLayout(self)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        self._values: dict[str, QLabel] = {}
        half = (len(self.FIELDS) + 1) // 2
        for k, (key, label) in enumerate(self.FIELDS):
            row, col = k % half, (k // half) * 2
            value = _value_label()
            self._values[key] = value
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(value, row, col + 1)
        layout.addLayout(grid)
        self.plot = pg.PlotWidget(background=palette.PLOT_LIGHT)
        self.plot.setMinimumHeight(150)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "seconds ago")
        self.plot.addLegend(offset=(8, 4), labelTextColor=palette.PLOT_LEGEND_TEXT)
        self.plot.setXRange(-HISTORY_POINTS * 0.5, 0, padding=0)
        self._fps = self.plot.plot(pen=pg.mkPen(palette.ACCENT, width=2), name="frames/s")
        self._kbps = self.plot.plot(pen=pg.mkPen(style.OK, width=2), name="kB/s")
        self._err = self.plot.plot(
            pen=None,
            symbol="o",
            symbolSize=7,
            symbolBrush=pg.mkBrush(style.ALARM),
            symbolPen=None,
            name="errors + drops",
        )
        layout.addWidget(self.plot, 1)
        self._hist: deque[tuple[float, float, float, int]] = deque(maxlen=HISTORY_POINTS)
        self._last: LinkStats | None = None
        self._stale = False  # figures came while hidden: shown at the next show

    def value(self, key: str) -> str:
        return self._values[key].text()

    @property
    def history_length(self) -> int:
        return len(self._hist)

    def update_stats(self, s: LinkStats) -> None:
        """Keep the figures (the history plot's point too); the labels and the plot are
        updated only while the panel is shown (on another tab: when it is shown again)."""
        prev = self._last
        bad = s.error_count + s.samples_dropped + s.frames_lost
        new_bad = (
            0
            if prev is None
            else max(0, bad - (prev.error_count + prev.samples_dropped + prev.frames_lost))
        )
        self._last = s
        self._hist.append((s.frames_per_s, s.bytes_per_s / 1000.0, 0.0, new_bad))
        if self.isVisible():
            self._show_stats(s)
            self._redraw()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale and self._last is not None:
            self._show_stats(self._last)
            self._redraw()
        self._stale = False

    def _show_stats(self, s: LinkStats) -> None:
        v = self._values
        colour = {
            "good": style.OK,
            "degraded": style.WARN,
            "stale": style.WARN,
            "offline": style.ALARM,
        }[s.quality]
        v["quality"].setText(style.pill(s.quality, colour))
        v["fps"].setText(f"{s.frames_per_s:,.1f}")
        v["bps"].setText(f"{s.bytes_per_s:,.0f}")
        v["frames"].setText(f"{s.frames:,}")
        v["age"].setText(
            DASH if math.isinf(s.last_frame_age_s) else f"{s.last_frame_age_s * 1000:,.0f} ms ago"
        )
        for key, n in (
            ("crc", s.crc_errors),
            ("framing", s.framing_errors),
            ("version", s.version_errors),
            ("bad", s.bad_messages),
            ("lost", s.frames_lost),
            ("dropped", s.samples_dropped),
            ("failed", s.commands_failed),
        ):
            v[key].setText(f"{n:,}")
            sheet = f"color:{style.ALARM};font-weight:600" if n else ""
            if v[key].styleSheet() != sheet:  # set again, it restyles the label
                v[key].setStyleSheet(sheet)
        v["sent"].setText(f"{s.frames_sent:,}")
        v["connects"].setText(f"{s.connect_count}")

    def _redraw(self) -> None:
        n = len(self._hist)
        if not n:
            return
        x = (np.arange(n) - (n - 1)) * 0.5
        arr = np.array([(a, b) for a, b, _, _ in self._hist])
        self._fps.setData(x, arr[:, 0])
        self._kbps.setData(x, arr[:, 1])
        bad = np.array([e for *_, e in self._hist], dtype=float)
        marks = bad > 0
        self._err.setData(x[marks], bad[marks])


class LoadPanel(QGroupBox):
    """Load impedance and compliance: from STATUS, and from V/I of the latest samples."""

    FIELDS = (
        ("state", "Device state"),
        ("contact", "Probe contact"),
        ("z_status", "|Z| reported (STATUS)"),
        ("z_vi", "|V/I| from samples"),
        ("level", "Output level / set point"),
        ("v_peak", "Peak electrode voltage"),
        ("headroom", "Compliance headroom"),
        ("compliance", "Compliance"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Load and compliance", parent)
        form = QFormLayout(self)
        self._values: dict[str, QLabel] = {}
        for key, label in self.FIELDS:
            value = _value_label()
            value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self._values[key] = value
            form.addRow(label, value)
        self.compliance_v = math.nan
        self._blocks: deque[SampleBlock] = deque()
        self._samples = 0
        self._status: Status | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)  # runs only while shown: nobody reads
        # a hidden panel (another tab, never shown yet); blocks are kept for the next show

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._status is not None:
            self._show_status(self._status)
        self.refresh()
        if not self._timer.isActive():
            self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._timer.stop()
        super().hideEvent(event)

    def value(self, key: str) -> str:
        return self._values[key].text()

    def set_info(self, info: Info | None) -> None:
        self.compliance_v = info.compliance_v if info is not None else math.nan

    def clear(self) -> None:
        self._blocks.clear()
        self._samples = 0
        self._status = None
        for key, _ in self.FIELDS:
            self._values[key].setText(DASH)
            self._values[key].setStyleSheet("")

    def add_status(self, status: Status) -> None:
        self._status = status
        if self.isVisible():  # hidden: shown by showEvent's refresh
            self._show_status(status)

    def _show_status(self, status: Status) -> None:
        v = self._values
        v["state"].setText(status.state.label)
        v["contact"].setText("on the load" if status.contact else "lifted (open load)")
        v["z_status"].setText(si_ohm(status.impedance_ohm))
        v["level"].setText(f"{status.level_ua:.1f} / {status.setpoint_ua:.1f} µA")
        v["compliance"].setText(
            style.pill("REACHED", style.ALARM)
            if status.compliance
            else style.pill("clear", style.OK)
        )

    def add_samples(self, block: SampleBlock) -> None:
        self._blocks.append(block)
        self._samples += len(block)
        limit = int(LOAD_WINDOW_S * block.sample_rate)
        while self._blocks and self._samples - len(self._blocks[0]) >= limit:
            self._samples -= len(self._blocks.popleft())

    def refresh(self) -> None:
        if not self._blocks:
            return
        blocks = list(self._blocks)
        i = np.concatenate([b.current_ua for b in blocks])
        u = np.concatenate([b.voltage_v for b in blocks])
        on = (np.concatenate([b.flags for b in blocks]) & int(SampleFlag.OUTPUT_ON)) != 0
        v = self._values
        v_peak = float(np.max(np.abs(u))) if u.size else math.nan
        _set(v["v_peak"], f"{v_peak:.2f} V")
        if on.any():
            z = measure_arrays(i[on], u[on], blocks[-1].sample_rate)["impedance_ohm"]
            _set(v["z_vi"], si_ohm(z) if math.isfinite(z) else "current too small")
        else:
            _set(v["z_vi"], "output off")
        if math.isfinite(self.compliance_v) and self.compliance_v > 0:
            room = 100.0 * (1.0 - v_peak / self.compliance_v)
            _set(v["headroom"], f"{max(room, 0.0):.0f} % of {self.compliance_v:g} V")
            colour = style.ALARM if room < 5 else style.WARN if room < 20 else ""
            sheet = f"color:{colour};font-weight:600" if colour else ""
            if v["headroom"].styleSheet() != sheet:
                v["headroom"].setStyleSheet(sheet)


def _set(label: QLabel, text: str) -> None:
    """A label's text set only when it changes (refreshed four times a second)."""
    if label.text() != text:
        label.setText(text)


class EventsPanel(QGroupBox):
    """A view of the console's device history (``DeviceEventHistory``): the device's
    EVENTs and the link's connections and drops since the console started, newest first,
    time-stamped — including what happened before the bench was first opened."""

    def __init__(self, history: DeviceEventHistory, parent: QWidget | None = None) -> None:
        super().__init__("Recent device events", parent)
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.setMinimumHeight(90)
        layout.addWidget(self.list)
        self.history = history
        for entry in history.entries():
            self._add(entry)
        history.added.connect(self._add)

    def texts(self) -> list[str]:
        """The rows as shown, newest first."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _add(self, entry: HistoryEntry) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.at))
        self.list.insertItem(0, f"{stamp}  {entry.text}")
        if entry.alarm:
            self.list.item(0).setForeground(pg.mkColor(style.ALARM))
        while self.list.count() > MAX_ENTRIES:
            self.list.takeItem(self.list.count() - 1)
