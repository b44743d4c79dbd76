"""The oscilloscope widget: pyqtgraph view over the pure core in app.scope.core.

Blocks are ingested as they arrive (:meth:`ScopeWidget.append`); a QTimer repaints at
display rate with one ``setData`` per curve, each curve reduced to a min/max envelope
per pixel column. Nothing is redrawn when nothing on screen would change (every curve
within :data:`DRAW_TOLERANCE_PX` of what is drawn: an idle flat trace); with the output
off the timer runs at :data:`IDLE_FRAME_MS`, and it stops while the widget is hidden.
The plot works in screen divisions like a bench scope: 10 time divisions, 8 vertical
divisions, each channel with its own scale (units/div) and offset.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QMetaMethod, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGraphicsPathItem,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings
from app.paths import data_dir
from app.scope.core.average import COUNTS as AVERAGE_COUNTS
from app.scope.core.average import SweepAverager
from app.scope.core.buffer import DEFAULT_CAPACITY, SampleRing
from app.scope.core.capture import Capture, capture_from_samples, write_csv
from app.scope.core.envelope import envelopes
from app.scope.core.history import CaptureHistory
from app.scope.core.mask import MaskFailure, MaskSettings, MaskTester, mask_bounds
from app.scope.core.measure import MEASUREMENTS, Statistics, measure, measure_arrays
from app.scope.core.persistence import HALF_LIVES_S, Persistence
from app.scope.core.session import SUFFIX as SESSION_SUFFIX
from app.scope.core.session import ScopeSession, SessionFileError, load_session, save_session
from app.scope.core.spectrum import WINDOWS as SPECTRUM_WINDOWS
from app.scope.core.spectrum import Spectrum, spectrum
from app.scope.core.trigger import (
    Edge,
    SweepAcquirer,
    TriggerMode,
    TriggerSettings,
    TriggerSource,
)
from app.scope.core.view import MIN_SAMPLES, Span, is_zoomed, pan_span, visible_capture, zoom_span

TIME_BASES = [m * 10.0**e for e in range(-4, 2) for m in (1, 2, 5)][:-2]  # 100 µs .. 10 s
CURRENT_SCALES = [m * 10.0**e for e in range(0, 3) for m in (1, 2, 5)] + [1000.0]  # µA/div
VOLTAGE_SCALES = [m * 10.0**e for e in range(-2, 2) for m in (1, 2, 5)]  # V/div
X_DIVS = 10
Y_DIVS = 8
HISTORY = 32
# With the output on: a frame as each block arrives, at most one per FRAME_MS on average
# (60 a second); one may come up to FRAME_SLACK_MS early when the one before came late, so
# a block that arrives a little under FRAME_MS after the last frame (the link hands one
# over every 16 ms, give or take the scheduler) is drawn at once instead of waiting.
FRAME_MS = 16
FRAME_SLACK_MS = 8
IDLE_FRAME_MS = 200  # the frame timer, always; alone with the output off: 5 frames a second
DRAW_TOLERANCE_PX = 1.0  # a curve moved by no more than this is not drawn again
TABLE_INTERVAL_S = 0.25
# live captures are measured (and added to the statistics) as often as the table shows
# the figures: measuring more often (it was 10 a second) only computed figures nobody saw
MEASURE_INTERVAL_S = TABLE_INTERVAL_S
MASK_BATCH_S = 0.1  # the mask test runs once this much stream has arrived (not per block)
ROLL_MEASURE_INTERVAL_S = 0.5  # roll mode: the window is mostly the same samples

BACKGROUND = palette.SCOPE_BACKGROUND
CURRENT_COLOUR = palette.SCOPE_CURRENT
VOLTAGE_COLOUR = palette.SCOPE_VOLTAGE
REFERENCE_COLOUR = palette.SCOPE_REFERENCE
MASK_COLOUR = palette.SCOPE_MASK
#: (label, action) of the mask-failure actions
MASK_ACTIONS = (
    ("On fail: count", "none"),
    ("On fail: beep", "beep"),
    ("On fail: stop", "stop"),
    ("On fail: save CSV", "save"),
)
CURSOR_COLOUR = palette.SCOPE_CURSOR
TRIGGER_COLOUR = palette.SCOPE_TRIGGER
GRID_COLOUR = palette.SCOPE_GRID
# persistence of each trace, graded by how often it was there: rare, often (the trace's
# colour), always — a heat scale per trace, drawn under both traces
PERSISTENCE_SCALES = {
    "current": (
        palette.SCOPE_PERSISTENCE_RARE,
        palette.SCOPE_PERSISTENCE,
        palette.SCOPE_PERSISTENCE_ALWAYS,
    ),
    "voltage": (
        palette.SCOPE_PERSISTENCE_VOLTAGE_RARE,
        palette.SCOPE_PERSISTENCE_VOLTAGE,
        palette.SCOPE_PERSISTENCE_VOLTAGE_ALWAYS,
    ),
}
ZOOM_STEP = 2.0  # one key press or button: zoom in or out by this factor
PAN_STEP = 0.25  # one arrow key: a quarter of the view


def _persistence_lut(trace: str) -> np.ndarray:
    """256 RGBA entries: transparent for never, then the trace's scale from rare (dim) to
    often (the trace's colour) to always (near white)."""
    g = np.linspace(0.0, 1.0, 256)
    lut = np.zeros((256, 4), dtype=np.uint8)
    stops = np.array([0.0, 0.5, 1.0])
    colours = np.array(PERSISTENCE_SCALES[trace], dtype=np.float64)
    for k in range(3):
        lut[:, k] = np.clip(np.interp(g, stops, colours[:, k]), 0, 255)
    lut[:, 3] = np.where(g > 0, np.clip(110 + 145 * g, 0, 255), 0)
    return lut


def si(x: float, unit: str, digits: int = 4) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    if unit in ("%", ""):
        return f"{x:.{max(digits - 2, 1)}f}{' ' + unit if unit else ''}"
    return pg.siFormat(x, precision=digits, suffix=unit)


def measurement_text(key: str, x: float, unit: str) -> str:
    """A measurement as the table shows it (µA and µC with SI prefixes, duty in %)."""
    k = 100.0 if key == "duty" else (1e-6 if unit in ("µA", "µC") else 1.0)
    return si(x * k, {"µA": "A", "µC": "C"}.get(unit, unit), 3)


def _step_label(x: float, unit: str) -> str:
    return pg.siFormat(x, precision=3, suffix=unit) + "/div"


class _DivAxis(pg.AxisItem):
    """Vertical axis in divisions, labelled in a channel's unit (scale x div + offset)."""

    def __init__(self, orientation: str, unit: str, colour: str) -> None:
        super().__init__(orientation)
        self.unit = unit
        self.scale = 1.0
        self.offset = 0.0
        self.setPen(pg.mkPen(colour))
        self.setTextPen(pg.mkPen(colour))
        self.setWidth(62)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        half = Y_DIVS // 2
        return [(1.0, [float(k) for k in range(-half, half + 1)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [
            pg.siFormat(self.offset + v * self.scale, precision=3, suffix=self.unit) for v in values
        ]


class _TimeAxis(pg.AxisItem):
    """A tick on every division; a label on each, or on every other one when the plot is
    too narrow for them all (labels like "120 ms" would run into each other)."""

    MIN_LABEL_PX = 56

    def __init__(self) -> None:
        super().__init__("bottom")
        self.div = 1e-3
        self.x0 = 0.0
        self.setStyle(maxTextLevel=0)  # only the first level of ticks is labelled

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        ticks = [self.x0 + k * self.div for k in range(X_DIVS + 1)]
        if size / X_DIVS >= self.MIN_LABEL_PX:
            return [(self.div, ticks)]
        first = int(round(-self.x0 / self.div)) % 2  # the trigger instant (0 s) is labelled
        return [(2 * self.div, ticks[first::2]), (self.div, ticks[1 - first :: 2])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [
            pg.siFormat(v if abs(v) > self.div * 1e-6 else 0.0, precision=3, suffix="s")
            for v in values
        ]


class _Graticule(QGraphicsPathItem):
    """The division grid as one static path (cheaper than axis grid lines)."""

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(QColor(GRID_COLOUR))
        pen.setCosmetic(True)
        pen.setWidth(0)
        self.setPen(pen)
        self.setZValue(-10)
        self.set_x(0.0, 1.0)

    def set_x(self, x0: float, div: float) -> None:
        path = QPainterPath()
        half = Y_DIVS / 2
        x1 = x0 + X_DIVS * div
        for k in range(X_DIVS + 1):
            x = x0 + k * div
            path.moveTo(x, -half)
            path.lineTo(x, half)
        for k in range(Y_DIVS + 1):
            path.moveTo(x0, k - half)
            path.lineTo(x1, k - half)
        # minor ticks on the centre lines, five per division
        tick = 0.08
        for k in range(X_DIVS * 5 + 1):
            x = x0 + k * div / 5
            path.moveTo(x, -tick)
            path.lineTo(x, tick)
        for k in range(Y_DIVS * 5 + 1):
            y = -half + k / 5
            mid = x0 + X_DIVS * div / 2
            path.moveTo(mid - tick * div, y)
            path.lineTo(mid + tick * div, y)
        self.setPath(path)


def _output_was_on(cap: Capture) -> bool:
    """True when any sample of the capture had the device's output on (or flags unknown)."""
    if cap.flags is None:
        return True
    return bool(np.any(np.asarray(cap.flags) & int(SampleFlag.OUTPUT_ON)))


class ScopeWidget(QWidget):
    """Oscilloscope for the delivered current, electrode voltage and commanded reference.

    Signals: ``mask_failed(MaskFailure)`` when delivered current leaves the mask around
    the commanded waveform; ``measurements_updated(dict)`` with the latest measurements
    (keys of app.scope.core.measure.MEASUREMENTS).
    """

    mask_failed = Signal(object)
    measurements_updated = Signal(dict)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        compact: bool = False,
        capacity: int = DEFAULT_CAPACITY,
        mask: bool = True,
    ) -> None:
        """``mask``: test delivered current against the mask from the start (the desk's
        small scope has it off: nobody reads a mask there, and the test costs CPU)."""
        super().__init__(parent)
        self.compact = compact
        self.ring = SampleRing(capacity)
        self.acquirer = SweepAcquirer(self.ring)
        self.mask = MaskTester(MaskSettings())
        self.mask_enabled = bool(mask)
        self.mask_action = "none"
        self.mask_save_dir: Path | None = None  # None: <data dir>/mask-failures
        self.mask_saved = 0  # failure captures saved since the last mask reset
        self._mask_untested = 0  # samples in the ring the mask test has not seen yet
        self.mask_tests = 0  # mask test runs (each tests all samples since the last)
        self.mask_saved_paths: list[Path] = []
        self._last_mask_save = -math.inf
        self.stats = Statistics()
        self.history = CaptureHistory(HISTORY)
        self.history_pos = -1
        self.averager = SweepAverager()
        # one persistence per trace (current, voltage), the same mechanism for both
        self.persistences = {name: Persistence() for name in PERSISTENCE_SCALES}
        self.persistence = self.persistences["current"]
        self.persistence_on = False
        self.zoom: Span | None = None  # the zoomed time span of a frozen capture
        self._setting_range = False  # the view range is being set by the widget itself
        # x, then current and voltage in divisions, as drawn
        self._last_env: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._persist_shown: dict[str, np.ndarray | None] = dict.fromkeys(PERSISTENCE_SCALES)
        self.persist_updates = 0  # times the persistence picture changed (images set)
        self.device_info: dict[str, object] = {}
        self.settings: OutputSettings | None = None
        self.roll = False
        self.frozen = False
        self.time_base = 20e-3  # two periods of the default 10 Hz output
        self.i_scale, self.i_offset = 50.0, 0.0
        self.v_scale, self.v_offset = 2.0, 0.0
        self.trigger = TriggerSettings()
        self.shown: Capture | None = None
        self.last_measurements: dict[str, float] = {}
        self._dirty = False
        self._ring_seen: int | None = None
        self._last_measure = 0.0
        self._last_table = 0.0
        self.frames_drawn = 0
        self.frames_unchanged = 0  # frames not drawn: nothing on screen would change
        self._drawn: tuple | None = None  # (x, ys in divisions, tolerance) last drawn
        self.output_on = False  # in the newest block
        self._cursors_placed = False
        self._build_ui()
        self._apply_timebase()
        self._timer = QTimer(self)
        self._timer.setInterval(IDLE_FRAME_MS)
        self._timer.timeout.connect(self._slow_frame)
        self._timer.start()  # stopped while hidden (hideEvent), again when shown
        # With the output on, a frame as soon as a block is in (no free-running 60 Hz
        # timer to wait for: the newest samples are on screen sooner, and a frame is
        # drawn only when there is something new).
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setTimerType(Qt.TimerType.PreciseTimer)  # never early: it is paced
        self._soon.timeout.connect(self._frame)
        # the frame pacing (a "virtual schedule": each frame moves it FRAME_MS on from
        # itself or from now, whichever is later; the next may start FRAME_SLACK_MS before it)
        self._frame_due = 0.0  # time.monotonic()

    # ----------------------------------------------------------------- UI building
    def _build_ui(self) -> None:
        pg.setConfigOptions(antialias=False)
        self._taxis = _TimeAxis()
        self._iaxis = _DivAxis("left", "A", CURRENT_COLOUR)
        self._vaxis = _DivAxis("right", "V", VOLTAGE_COLOUR)
        self.plot = pg.PlotWidget(
            background=BACKGROUND,
            axisItems={"bottom": self._taxis, "left": self._iaxis, "right": self._vaxis},
        )
        pi = self.plot.getPlotItem()
        pi.showAxis("right")
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setMouseEnabled(x=False, y=False)
        self.graticule = _Graticule()
        pi.addItem(self.graticule, ignoreBounds=True)
        pi.setYRange(-Y_DIVS / 2, Y_DIVS / 2, padding=0.025)  # room for the end labels
        pi.getViewBox().setDefaultPadding(0)
        pi.setClipToView(False)
        pi.getAxis("left").setLabel("Current", color=CURRENT_COLOUR)
        pi.getAxis("right").setLabel("Voltage", color=VOLTAGE_COLOUR)
        self.plot.setMinimumHeight(150 if self.compact else 200)  # compact: the desk's dock

        def curve(colour, width=1, z=0):
            c = pg.PlotCurveItem(
                pen=pg.mkPen(colour, width=width),
                antialias=False,
                connect="finite",
                skipFiniteCheck=True,
            )
            c.setZValue(z)
            pi.addItem(c)
            return c

        self.mask_hi_curve = curve(MASK_COLOUR, z=1)
        self.mask_lo_curve = curve(MASK_COLOUR, z=1)
        self.ref_curve = curve(REFERENCE_COLOUR, z=2)
        self.voltage_curve = curve(VOLTAGE_COLOUR, z=3)
        self.current_curve = curve(CURRENT_COLOUR, z=4)
        # persistence: a graded image of each trace's recent sweeps, under the traces
        # (the current's over the voltage's, as the traces are)
        self.persist_images: dict[str, pg.ImageItem] = {}
        for z, name in enumerate(PERSISTENCE_SCALES):
            image = pg.ImageItem(axisOrder="col-major")
            image.setLookupTable(_persistence_lut(name))
            image.setZValue(-5 - z)
            image.setVisible(False)
            pi.addItem(image, ignoreBounds=True)
            self.persist_images[name] = image
        self.persist_image = self.persist_images["current"]
        vb = pi.getViewBox()
        vb.sigXRangeChanged.connect(self._view_range_changed)
        self.plot.installEventFilter(self)

        self.trigger_line = pg.InfiniteLine(
            pos=0.0,
            angle=0,
            movable=True,
            pen=pg.mkPen(TRIGGER_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label="T ◀",
            labelOpts={"position": 0.98, "color": TRIGGER_COLOUR},
        )
        self.trigger_line.setZValue(10)
        self.trigger_line.sigPositionChanged.connect(self._trigger_dragged)
        pi.addItem(self.trigger_line, ignoreBounds=True)
        self.trigger_time_line = pg.InfiniteLine(
            pos=0.0, angle=90, movable=False, pen=pg.mkPen(TRIGGER_COLOUR, width=1)
        )
        pi.addItem(self.trigger_time_line, ignoreBounds=True)

        cpen = pg.mkPen(CURSOR_COLOUR, width=1, style=Qt.PenStyle.DashLine)
        lab = {"position": 0.04, "color": CURSOR_COLOUR}
        self.cursor_t = [
            pg.InfiniteLine(angle=90, movable=True, pen=cpen, label=name, labelOpts=lab)
            for name in ("T1", "T2")
        ]
        self.cursor_y = [
            pg.InfiniteLine(
                angle=0,
                movable=True,
                pen=cpen,
                label=name,
                labelOpts={"position": 0.03, "color": CURSOR_COLOUR},
            )
            for name in ("Y1", "Y2")
        ]
        for line in self.cursor_t + self.cursor_y:
            line.setZValue(11)
            line.setVisible(False)
            line.sigPositionChanged.connect(self._update_cursor_readout)
            pi.addItem(line, ignoreBounds=True)

        # controls --------------------------------------------------------------
        self.run_button = QPushButton("Freeze")
        self.run_button.setCheckable(True)
        self.run_button.setToolTip("Freeze the display; the stream keeps being recorded")
        self.run_button.toggled.connect(self.freeze)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["Sweep", "Roll"])
        self.mode_combo.setToolTip("Sweep: triggered captures. Roll: strip chart")
        self.mode_combo.currentTextChanged.connect(lambda t: self.set_roll(t == "Roll"))
        self.timebase_combo = QComboBox()
        for tb in TIME_BASES:
            self.timebase_combo.addItem(_step_label(tb, "s"), tb)
        self.timebase_combo.setCurrentIndex(TIME_BASES.index(self.time_base))
        self.timebase_combo.currentIndexChanged.connect(lambda i: self.set_time_base(TIME_BASES[i]))
        self.autoset_button = QPushButton("Auto setup")
        self.autoset_button.setToolTip("Choose time base, scales and trigger for the signal")
        self.autoset_button.clicked.connect(self.auto_setup)
        self.status_label = QLabel()
        self.status_label.setMinimumWidth(120)
        self.mask_label = QLabel()
        self.mask_label.setMinimumWidth(110)
        self.mask_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.trig_mode_combo = QComboBox()
        self.trig_mode_combo.addItems([m.value for m in TriggerMode])
        self.trig_mode_combo.currentTextChanged.connect(
            lambda t: self.set_trigger(mode=TriggerMode(t))
        )
        self.arm_button = QPushButton("Arm")
        self.arm_button.setToolTip("Single mode: wait for the next trigger")
        self.arm_button.clicked.connect(self.arm)
        self.source_combo = QComboBox()
        self.source_combo.addItems(["Sync", "Current", "Voltage"])
        self.source_combo.setToolTip(
            "Sync: the device's period start. Current/Voltage: "
            "edge at the level (drag the orange T line)"
        )
        self.source_combo.currentTextChanged.connect(
            lambda t: self.set_trigger(source=TriggerSource(t))
        )
        self.edge_combo = QComboBox()
        self.edge_combo.addItems([e.value for e in Edge])
        self.edge_combo.currentTextChanged.connect(lambda t: self.set_trigger(edge=Edge(t)))
        self.pre_spin = QDoubleSpinBox()
        self.pre_spin.setRange(0, 100)
        self.pre_spin.setDecimals(0)
        self.pre_spin.setSuffix(" % pre")
        self.pre_spin.setValue(self.trigger.pre_fraction * 100)
        self.pre_spin.valueChanged.connect(lambda v: self.set_trigger(pre_fraction=v / 100))
        self.level_spin = QDoubleSpinBox()  # the typed trigger level, bound to the T line
        self.level_spin.setRange(-5000, 5000)
        self.level_spin.setDecimals(2)
        self.level_spin.setPrefix("T ")
        self.level_spin.setSuffix(" µA")
        self.level_spin.setKeyboardTracking(False)
        self.level_spin.setToolTip("Trigger level (also set by dragging the orange T line)")
        self.level_spin.valueChanged.connect(self.set_trigger_level)
        self.holdoff_spin = QDoubleSpinBox()
        self.holdoff_spin.setRange(0, 10_000)
        self.holdoff_spin.setDecimals(1)
        self.holdoff_spin.setSuffix(" ms holdoff")
        self.holdoff_spin.setKeyboardTracking(False)
        self.holdoff_spin.setToolTip("After a trigger, ignore triggers for this long")
        self.holdoff_spin.valueChanged.connect(lambda v: self.set_trigger(holdoff_s=v / 1000))

        self.i_scale_combo = QComboBox()
        for s in CURRENT_SCALES:
            self.i_scale_combo.addItem(_step_label(s * 1e-6, "A"), s)
        self.i_scale_combo.setCurrentIndex(CURRENT_SCALES.index(self.i_scale))
        self.i_scale_combo.currentIndexChanged.connect(
            lambda i: self.set_channel("current", scale=CURRENT_SCALES[i])
        )
        self.i_offset_spin = QDoubleSpinBox()
        self.i_offset_spin.setRange(-5000, 5000)
        self.i_offset_spin.setSuffix(" µA")
        self.i_offset_spin.setPrefix("offset ")
        self.i_offset_spin.valueChanged.connect(lambda v: self.set_channel("current", offset=v))
        self.v_scale_combo = QComboBox()
        for s in VOLTAGE_SCALES:
            self.v_scale_combo.addItem(_step_label(s, "V"), s)
        self.v_scale_combo.setCurrentIndex(VOLTAGE_SCALES.index(self.v_scale))
        self.v_scale_combo.currentIndexChanged.connect(
            lambda i: self.set_channel("voltage", scale=VOLTAGE_SCALES[i])
        )
        self.v_offset_spin = QDoubleSpinBox()
        self.v_offset_spin.setRange(-100, 100)
        self.v_offset_spin.setSuffix(" V")
        self.v_offset_spin.setPrefix("offset ")
        self.v_offset_spin.valueChanged.connect(lambda v: self.set_channel("voltage", offset=v))

        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("Previous capture in the history")
        self.prev_button.clicked.connect(lambda: self.step_history(-1))
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next capture in the history")
        self.next_button.clicked.connect(lambda: self.step_history(1))
        for b in (self.prev_button, self.next_button):
            b.setMaximumWidth(40)
        self.history_label = QLabel()
        self.history_label.setMinimumWidth(95)
        self.history_label.setTextFormat(Qt.TextFormat.PlainText)  # a label is user text
        self.history_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.history_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.cursor_check = QCheckBox("Cursors")
        self.cursor_check.toggled.connect(self.show_cursors)
        # the spectrum of the capture on screen (current), under the trace
        self.spectrum_check = QCheckBox("Spectrum")
        self.spectrum_check.setToolTip(
            "Show the frequency content of the delivered current of the capture on screen"
        )
        self.spectrum_window = QComboBox()
        self.spectrum_window.addItems(list(SPECTRUM_WINDOWS))
        self.spectrum_window.setToolTip(
            "Window: hann for resolution, flattop for amplitude, blackman for low leakage"
        )
        self.spectrum_plot = pg.PlotWidget(background=BACKGROUND)
        self.spectrum_plot.setLabel("bottom", "frequency", units="Hz")
        self.spectrum_plot.setLabel("left", "I amplitude", units="µA")
        self.spectrum_plot.setLogMode(x=False, y=True)
        self.spectrum_plot.showGrid(x=True, y=True, alpha=0.25)
        self.spectrum_plot.setMinimumHeight(140)
        self.spectrum_plot.hide()
        self.spectrum_curve = self.spectrum_plot.plot([], [], pen=pg.mkPen(CURRENT_COLOUR))
        self.spectrum_label = QLabel()
        # the figures wrap: never wider than the side panel (the bench fits 1280 px)
        self.spectrum_label.setWordWrap(True)
        self.spectrum_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.spectrum_label.hide()
        self.last_spectrum: Spectrum | None = None
        self.spectrum_check.toggled.connect(self._spectrum_toggled)
        self.spectrum_window.currentIndexChanged.connect(lambda _i: self._update_spectrum())
        self.ref_check = QCheckBox("Reference")
        self.ref_check.setChecked(True)
        self.ref_check.toggled.connect(lambda on: self._mark_dirty())
        self.mask_check = QCheckBox("Mask")
        self.mask_check.setChecked(self.mask_enabled)
        self.mask_check.setToolTip("Test delivered current against the commanded waveform")
        self.mask_check.toggled.connect(self.set_mask_enabled)
        self.mask_tol_spin = QDoubleSpinBox()
        self.mask_tol_spin.setRange(1, 100)
        self.mask_tol_spin.setDecimals(0)
        self.mask_tol_spin.setPrefix("± ")
        self.mask_tol_spin.setSuffix(" %")
        self.mask_tol_spin.setValue(self.mask.settings.tolerance_pct)
        self.mask_tol_spin.valueChanged.connect(lambda v: self.set_mask_tolerance(v))
        self.mask_action_combo = QComboBox()
        for label, action in MASK_ACTIONS:
            self.mask_action_combo.addItem(label, action)
        self.mask_action_combo.setToolTip(
            "What a mask failure does besides counting: beep, "
            "stop (freeze on the failure) or save the capture "
            "around it as CSV"
        )
        self.mask_action_combo.currentIndexChanged.connect(
            lambda i: self.set_mask_action(self.mask_action_combo.itemData(i))
        )
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self._export_csv_dialog)
        self.png_button = QPushButton("Export PNG…")
        self.png_button.clicked.connect(self._export_png_dialog)
        self.reset_stats_button = QPushButton("Reset stats")
        self.reset_stats_button.clicked.connect(self.reset_statistics)
        self.average_combo = QComboBox()
        for n in AVERAGE_COUNTS:
            self.average_combo.addItem("Average off" if n == 1 else f"Average {n}", n)
        self.average_combo.setToolTip(
            "Average the last N triggered sweeps, aligned on the trigger (noise falls, "
            "the triggered waveform stays); starts over on any setting change"
        )
        self.average_combo.currentIndexChanged.connect(
            lambda i: self.set_averaging(self.average_combo.itemData(i))
        )
        self.persist_combo = QComboBox()
        self.persist_combo.addItem("Persistence off", 0.0)
        for hl in HALF_LIVES_S:
            self.persist_combo.addItem(
                "Persist ∞" if math.isinf(hl) else f"Persist {hl:g} s", float(hl)
            )
        self.persist_combo.setToolTip(
            "Persistence: the recent sweeps of the current (yellow) and the voltage (cyan) "
            "as images under the traces, brighter where the trace often was; the time is how "
            "fast old sweeps fade (half-life)"
        )
        self.persist_combo.currentIndexChanged.connect(
            lambda i: self.set_persistence(self.persist_combo.itemData(i))
        )
        self.zoom_out_button = QPushButton("Reset zoom")
        self.zoom_out_button.setToolTip(
            "Frozen: wheel zooms the time axis, drag pans, keys + − ← → and Home; this "
            "button shows the whole capture again"
        )
        self.zoom_out_button.clicked.connect(self.reset_zoom)
        self.zoom_out_button.setEnabled(False)
        self.pin_button = QPushButton("Pin")
        self.pin_button.setCheckable(True)
        self.pin_button.setToolTip("Keep the capture on screen in the history (not pushed out)")
        self.pin_button.toggled.connect(self._pin_toggled)
        self.label_button = QPushButton("Label…")
        self.label_button.setToolTip("Name the capture on screen")
        self.label_button.clicked.connect(self._label_dialog)
        self.save_session_button = QPushButton("Save session…")
        self.save_session_button.setToolTip(
            "Save the captures (with their pins and labels) and the scope settings to a file"
        )
        self.save_session_button.clicked.connect(self._save_session_dialog)
        self.open_session_button = QPushButton("Open session…")
        self.open_session_button.setToolTip("Show the captures of a saved scope session, frozen")
        self.open_session_button.clicked.connect(self._open_session_dialog)
        self.measure_scope_label = QLabel()
        self.measure_scope_label.setTextFormat(Qt.TextFormat.PlainText)
        self.measure_scope_label.setWordWrap(True)
        self.measure_scope_label.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )
        self.measure_scope_label.setStyleSheet(f"color: {palette.SCOPE_MUTED_TEXT}")
        self.cursor_label = QLabel()
        self.cursor_label.setTextFormat(Qt.TextFormat.RichText)
        self.cursor_label.setStyleSheet(
            f"background: {BACKGROUND}; padding: 6px 10px; font-size: 10.5pt"
        )
        self.cursor_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        row1 = QHBoxLayout()
        for w in (self.run_button, self.mode_combo, self.timebase_combo, self.autoset_button):
            row1.addWidget(w)
        if not self.compact:
            for text, w in (
                ("Trigger", self.trig_mode_combo),
                (None, self.arm_button),
                (None, self.source_combo),
                (None, self.edge_combo),
                (None, self.pre_spin),
            ):
                if text:
                    row1.addSpacing(10)
                    row1.addWidget(QLabel(text))
                row1.addWidget(w)
        row1.addStretch(1)
        if self.compact:
            row1.addWidget(self.mask_label)
            row1.addWidget(self.status_label)
        layout.addLayout(row1)
        if not self.compact:
            row2 = QHBoxLayout()
            i_lab = QLabel("I")
            i_lab.setStyleSheet(
                f"color: {CURRENT_COLOUR}; background: {BACKGROUND}; "
                "padding: 2px 6px; font-weight: bold"
            )
            v_lab = QLabel("V")
            v_lab.setStyleSheet(
                f"color: {VOLTAGE_COLOUR}; background: {BACKGROUND}; "
                "padding: 2px 6px; font-weight: bold"
            )
            for w in (
                i_lab,
                self.i_scale_combo,
                self.i_offset_spin,
                v_lab,
                self.v_scale_combo,
                self.v_offset_spin,
            ):
                row2.addWidget(w)
            row2.addStretch(1)
            layout.addLayout(row2)
            # the trigger level and holdoff, and the verdicts, on a row of their own: the
            # bench fits a 1280-pixel screen
            row3 = QHBoxLayout()
            row3.addWidget(self.level_spin)
            row3.addWidget(self.holdoff_spin)
            row3.addStretch(1)
            row3.addWidget(self.mask_label)
            row3.addWidget(self.status_label)
            layout.addLayout(row3)
        body = QHBoxLayout()
        plots = QVBoxLayout()
        plots.addWidget(self.plot, 3)
        plots.addWidget(self.spectrum_plot, 1)
        body.addLayout(plots, 3)
        self.table = QTableWidget(len(MEASUREMENTS), 5)
        self.table.setHorizontalHeaderLabels(["Measurement", "Value", "Min", "Mean", "Max"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed, fitted to the figures by _fit_table_columns after each refresh: with
        # ResizeToContents every changed cell re-measured its whole column (0.2 ms a
        # cell, ~14 cells four times a second while streaming).
        for col in range(1, 5):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row, (label, _unit) in enumerate(MEASUREMENTS.values()):
            self.table.setItem(row, 0, QTableWidgetItem(label))
            for col in range(1, 5):
                item = QTableWidgetItem("—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        self._fit_table_columns(range(1, 5))
        side = QVBoxLayout()
        if not self.compact:
            # captures and exports above the figures they concern: the control rows stay
            # short enough for the bench to fit a 1280-pixel screen
            captures = QHBoxLayout()
            captures.addWidget(self.prev_button)
            captures.addWidget(self.history_label, 1)  # takes the room left (labels)
            captures.addWidget(self.next_button)
            captures.addWidget(self.csv_button)
            captures.addWidget(self.png_button)
            side.addLayout(captures)
            # two short rows (the bench fits a 1280-pixel screen): what is drawn and
            # tested, then cursors and the spectrum
            shown = QHBoxLayout()
            for w in (
                self.ref_check,
                self.mask_check,
                self.mask_tol_spin,
                self.mask_action_combo,
            ):
                shown.addWidget(w)
            shown.addStretch(1)
            side.addLayout(shown)
            acquire_row = QHBoxLayout()
            for w in (self.average_combo, self.persist_combo, self.zoom_out_button):
                acquire_row.addWidget(w)
            acquire_row.addStretch(1)
            side.addLayout(acquire_row)
            session_row = QHBoxLayout()
            for w in (
                self.pin_button,
                self.label_button,
                self.save_session_button,
                self.open_session_button,
            ):
                session_row.addWidget(w)
            session_row.addStretch(1)
            side.addLayout(session_row)
            spectrum_row = QHBoxLayout()
            spectrum_row.addWidget(self.cursor_check)
            spectrum_row.addWidget(self.spectrum_check)
            spectrum_row.addWidget(self.spectrum_window)
            spectrum_row.addWidget(self.spectrum_label, 1)
            side.addLayout(spectrum_row)
        side.addWidget(self.measure_scope_label)
        side.addWidget(self.table, 1)
        stats_row = QHBoxLayout()
        self.stats_label = QLabel()
        # Fixed in size (room for 10 million captures): its count changes four times a
        # second while streaming, and a label that may resize asks every layout above it
        # to be redone, up to the tab widget, which then repaints the whole scope page.
        widest = "Statistics over 00000000 captures"
        self.stats_label.setFixedSize(
            self.stats_label.fontMetrics().horizontalAdvance(widest) + 4,
            self.stats_label.sizeHint().height(),
        )
        stats_row.addWidget(self.stats_label)
        stats_row.addStretch(1)
        stats_row.addWidget(self.reset_stats_button)
        side.addLayout(stats_row)
        side.addWidget(self.cursor_label)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMinimumWidth(480)
        side_widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self._side = side_widget
        if not self.compact:
            body.addWidget(side_widget, 0)
        else:
            side_widget.hide()
        layout.addLayout(body, 1)
        self._sync_controls()
        self._update_status()

    # ------------------------------------------------------------------ public API
    def append(self, block: SampleBlock) -> None:
        """Ingest a block as it arrives (cheap: copy into the ring, run the mask test if it
        is on). The output on in the block's last sample sets the display rate."""
        self.ring.append(block)
        if len(block):
            on = bool(block.flags[-1] & SampleFlag.OUTPUT_ON.value)
            self.output_on = on
            if on and not self._soon.isActive() and self._timer.isActive():  # shown
                wait = self._frame_due - FRAME_SLACK_MS / 1000.0 - time.monotonic()
                self._soon.start(min(FRAME_MS, max(0, math.ceil(wait * 1000.0))))
        if self.mask_enabled and self.settings is not None:
            # incremental: every sample is tested, 0.1 s of them at a time (a failure is
            # reported at most MASK_BATCH_S late; the per-call cost is mostly fixed)
            self._mask_untested += len(block)
            if self._mask_untested >= MASK_BATCH_S * block.sample_rate:
                self.run_mask_test()

    def run_mask_test(self) -> None:
        """Test the samples that arrived since the last test (see :class:`MaskTester`)."""
        self._mask_untested = 0
        self.mask_tests += 1
        failure = self.mask.update(self.ring)
        if failure is not None:
            self._update_mask_label(failure.compliance)
            self._mask_action(failure)
            self.mask_failed.emit(failure)

    def _reset_mask(self) -> None:
        self.mask.reset(self.ring)
        self.mask_saved = 0
        self._mask_untested = 0

    def set_mask_action(self, action: str) -> None:
        """What a mask failure does besides counting: "none", "beep", "stop" (freeze on
        a capture around the failing sample) or "save" (write that capture as CSV into
        :attr:`mask_save_dir`, at most one a second and 100 per reset)."""
        if action not in {a for _, a in MASK_ACTIONS}:
            raise ValueError(f"mask action {action!r}: choose none, beep, stop or save")
        self.mask_action = action
        idx = self.mask_action_combo.findData(action)
        if idx != self.mask_action_combo.currentIndex():
            self.mask_action_combo.blockSignals(True)
            self.mask_action_combo.setCurrentIndex(idx)
            self.mask_action_combo.blockSignals(False)

    def failure_capture(self, failure: MaskFailure) -> Capture | None:
        """A capture of the time base's window around a failure's first violating sample
        (the trigger point of the capture), as far as the samples have arrived."""
        ring = self.ring
        if ring.newest is None or failure.index < 0:
            return None
        oldest = ring.oldest_kept if ring.oldest_kept is not None else ring.newest
        n = min(self._window_samples(), ring.newest - oldest + 1)
        start = max(oldest, min(failure.index - n // 2, ring.newest - n + 1))
        w = ring.window(start, start + n)
        return Capture(
            sample_rate=w.sample_rate,
            start_index=start,
            trigger_offset=failure.index - start,
            current_ua=w.current_ua,
            voltage_v=w.voltage_v,
            reference_ua=w.reference_ua,
            flags=w.flags,
            triggered=True,
            wall_time=time.time(),
        )

    def _mask_action(self, failure: MaskFailure) -> None:
        action = self.mask_action
        if action == "beep":
            QApplication.beep()
        elif action == "stop" and not self.frozen:
            cap = self.failure_capture(failure)
            if cap is not None:
                self.history.append(cap)
                self.freeze(True)
        elif action == "save":
            now = time.monotonic()
            if now - self._last_mask_save < 1.0 or self.mask_saved >= 100:
                return
            cap = self.failure_capture(failure)
            if cap is None:
                return
            folder = self.mask_save_dir or data_dir() / "mask-failures"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / (f"mask-fail-{time.strftime('%Y%m%d-%H%M%S')}-{failure.index}.csv")
            meta = self.export_metadata(cap)
            meta.update(
                {
                    "mask_failure_time_s": failure.time_s,
                    "mask_failure_index": failure.index,
                    "mask_deviation_ua": failure.worst_deviation_ua,
                    "mask_fail_count": failure.fail_count,
                }
            )
            try:
                write_csv(path, cap, meta)
            except OSError as exc:
                self.mask_label.setToolTip(f"Could not save the failure capture: {exc}")
                return
            self._last_mask_save = now
            self.mask_saved += 1
            self.mask_saved_paths.append(path)

    def set_reference(self, settings: OutputSettings | None) -> None:
        """The commanded output (None: no reference trace, no mask test)."""
        self.settings = settings
        self.ring.reference.set_settings(settings)
        if settings is not None:
            self.mask.configure(settings.amplitude_ua, settings.frequency_hz)
        self.averager.reset()  # a new output: sweeps of the old one are not averaged in
        self._reset_mask()
        self._update_mask_label(False)
        self._mark_dirty()

    def set_device_info(self, info: object) -> None:
        """Device identity for export metadata: an app.device.protocol.Info or a dict."""
        if info is None:
            self.device_info = {}
        elif hasattr(info, "as_dict"):
            self.device_info = dict(info.as_dict())
        else:
            self.device_info = dict(info)  # type: ignore[call-overload]

    def clear(self) -> None:
        """Forget all samples, captures, history and statistics."""
        self.ring.clear()
        self.acquirer.reset()
        self._reset_mask()
        self.history.clear()
        self.history_pos = -1
        self.averager.reset()
        self._clear_persistence()
        self.zoom = None
        self.stats.reset()
        self.shown = None
        self.last_measurements = {}
        self._ring_seen = None
        for c in self._curves():
            c.setData([], [])
        self._drawn = None
        self._update_mask_label(False)
        self._update_status()

    def freeze(self, frozen: bool) -> None:
        """Freeze (True) or run. Frozen, the stream is still recorded; the history of the
        last captures can be stepped through with :meth:`step_history`."""
        frozen = bool(frozen)
        if frozen == self.frozen:
            return
        self.frozen = frozen
        if frozen:
            if self.roll:
                cap = self._roll_capture()
                if cap is not None:
                    self.history.append(cap)
            self.history_pos = len(self.history) - 1
            self.zoom = None
            self._enable_zoom(True)
            if self.history_pos >= 0:
                self._show_capture(self.history[self.history_pos], measure_it=True)
        else:
            self.zoom = None
            self._enable_zoom(False)
            self._apply_x_only()
            self.acquirer.reset()
            self._ring_seen = None
        self.run_button.blockSignals(True)
        self.run_button.setChecked(frozen)
        self.run_button.setText("Run" if frozen else "Freeze")
        self.run_button.blockSignals(False)
        self._update_status()

    def step_history(self, step: int) -> None:
        """Frozen: show an older (-1) or newer (+1) capture of the history."""
        if not self.frozen:
            self.freeze(True)
        if not self.history:
            return
        pos = int(np.clip(self.history_pos + step, 0, len(self.history) - 1))
        if pos != self.history_pos:
            self.history_pos = pos
            self._set_zoom(None)  # another capture: shown whole
        self._show_capture(self.history[self.history_pos], measure_it=True)
        self._update_status()

    def load_capture(
        self, times, current, voltage, sample_rate: float | None = None, reference=None
    ) -> Capture:
        """Show a recorded capture (replay/offline): frozen, added to the history."""
        cap = capture_from_samples(times, current, voltage, sample_rate)
        if reference is not None:
            cap = replace(cap, reference_ua=np.asarray(reference, dtype=np.float32))
        self.freeze(True)
        self.history.append(cap)
        self.history_pos = len(self.history) - 1
        span = len(cap) / cap.sample_rate
        tb = next((t for t in TIME_BASES if t * X_DIVS >= span * (1 - 1e-6)), TIME_BASES[-1])
        self.set_time_base(tb)
        pre = float(np.clip(cap.trigger_offset / max(len(cap), 1), 0, 1))
        self.set_trigger(pre_fraction=pre)
        self._show_capture(cap, measure_it=True)
        self._update_status()
        return cap

    def set_roll(self, roll: bool) -> None:
        self.roll = bool(roll)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentText("Roll" if roll else "Sweep")
        self.mode_combo.blockSignals(False)
        self._apply_timebase()

    def set_time_base(self, seconds_per_div: float) -> None:
        if seconds_per_div not in TIME_BASES:
            raise ValueError(
                f"time base must be one of the 1-2-5 steps 100 µs..10 s per "
                f"division, got {seconds_per_div:g} s"
            )
        self.time_base = seconds_per_div
        self.timebase_combo.blockSignals(True)
        self.timebase_combo.setCurrentIndex(TIME_BASES.index(seconds_per_div))
        self.timebase_combo.blockSignals(False)
        self._apply_timebase()

    def set_trigger(self, **changes) -> None:
        """Change trigger settings (mode, source, edge, level, pre_fraction, hysteresis)."""
        self.trigger = replace(self.trigger, **changes)
        self._sync_controls()
        self._configure_acquirer()
        self._update_status()

    def arm(self) -> None:
        self.acquirer.arm()
        self._leave_zoom_if_running()
        self._update_status()

    def _leave_zoom_if_running(self) -> None:
        """Running again (Arm, a new trigger setting): the view is the time base."""
        if not self.still:
            self.zoom = None
            self._enable_zoom(False)
            self._apply_x_only()

    def set_trigger_level(self, level: float) -> None:
        """The typed trigger level (µA or V, the source's unit): moves the T line too.
        Like dragging, it does not re-arm (the search only ever goes forward)."""
        self.trigger = replace(self.trigger, level=float(level))
        self.acquirer.set_level(self.trigger.level)
        self._show_level()
        self._update_status()

    def _show_level(self) -> None:
        """Put the T line and the level box at the trigger level, without feedback."""
        t = self.trigger
        volts = t.source == TriggerSource.VOLTAGE
        scale, off = (self.v_scale, self.v_offset) if volts else (self.i_scale, self.i_offset)
        self.trigger_line.blockSignals(True)
        self.trigger_line.setValue((t.level - off) / scale)
        self.trigger_line.blockSignals(False)
        self.level_spin.blockSignals(True)
        self.level_spin.setSuffix(" V" if volts else " µA")
        self.level_spin.setDecimals(3 if volts else 2)
        self.level_spin.setValue(t.level)
        self.level_spin.blockSignals(False)
        self.level_spin.setEnabled(t.source != TriggerSource.SYNC)

    def set_channel(
        self, channel: str, *, scale: float | None = None, offset: float | None = None
    ) -> None:
        """Vertical scale (units/div) and offset (units at the centre line) of a channel."""
        if channel not in ("current", "voltage"):
            raise ValueError(f"channel must be 'current' or 'voltage', got {channel!r}")
        if scale is not None and not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if channel == "current":
            self.i_scale = scale if scale is not None else self.i_scale
            self.i_offset = offset if offset is not None else self.i_offset
        else:
            self.v_scale = scale if scale is not None else self.v_scale
            self.v_offset = offset if offset is not None else self.v_offset
        self._sync_controls()
        if self.trigger.source != TriggerSource.SYNC:
            self._configure_acquirer()
        self._clear_persistence()  # the image is in screen divisions
        self._mark_dirty()

    def set_mask_enabled(self, enabled: bool) -> None:
        self.mask_enabled = bool(enabled)
        self._reset_mask()
        self.mask_check.blockSignals(True)
        self.mask_check.setChecked(self.mask_enabled)
        self.mask_check.blockSignals(False)
        self._update_mask_label(False)
        self._mark_dirty()

    def set_mask_tolerance(self, percent: float) -> None:
        self.mask.settings = replace(self.mask.settings, tolerance_pct=float(percent))
        self._reset_mask()
        self._update_mask_label(False)
        self._mark_dirty()

    def show_cursors(self, on: bool) -> None:
        first = on and not self._cursors_placed
        for line in self.cursor_t + self.cursor_y:
            line.setVisible(bool(on))
        if first:
            x_lo, x_hi = self._x_range()
            span = x_hi - x_lo
            self.set_cursors(
                x_lo + 0.3 * span, x_lo + 0.6 * span, 1.5 * self.i_scale, -1.5 * self.i_scale
            )
            self._cursors_placed = True
        self.cursor_check.blockSignals(True)
        self.cursor_check.setChecked(bool(on))
        self.cursor_check.blockSignals(False)
        self._update_cursor_readout()

    def set_cursors(self, t1: float, t2: float, i1_ua: float, i2_ua: float) -> None:
        """Place the time cursors (s) and the amplitude cursors (given in µA)."""
        self._cursors_placed = True
        self.cursor_t[0].setValue(t1)
        self.cursor_t[1].setValue(t2)
        self.cursor_y[0].setValue((i1_ua - self.i_offset) / self.i_scale)
        self.cursor_y[1].setValue((i2_ua - self.i_offset) / self.i_scale)
        self._update_cursor_readout()

    def cursor_values(self) -> dict[str, float]:
        """T1, T2 (s), I1, I2 (µA), V1, V2 (V) and the deltas dt_s, inv_dt_hz, di_ua, dv_v."""
        t1, t2 = (c.value() for c in self.cursor_t)
        y1, y2 = (c.value() for c in self.cursor_y)
        i1, i2 = (self.i_offset + y * self.i_scale for y in (y1, y2))
        v1, v2 = (self.v_offset + y * self.v_scale for y in (y1, y2))
        dt = t2 - t1
        return {
            "t1_s": t1,
            "t2_s": t2,
            "i1_ua": i1,
            "i2_ua": i2,
            "v1_v": v1,
            "v2_v": v2,
            "dt_s": dt,
            "inv_dt_hz": (1.0 / abs(dt)) if dt else float("inf"),
            "di_ua": i2 - i1,
            "dv_v": v2 - v1,
        }

    def auto_setup(self) -> None:
        """Choose time base, channel scales and trigger so the signal fills the screen."""
        fs = self.ring.sample_rate
        if self.ring.newest is None or not fs:
            return
        w = self.ring.latest(int(min(self.ring.capacity, 2.0 * fs)))
        freq = self.settings.frequency_hz if self.settings else float("nan")
        if not math.isfinite(freq) or freq <= 0:
            freq = measure_freq(w.current_ua, fs)
        if math.isfinite(freq) and freq > 0:
            want = 3.0 / freq / X_DIVS
            tb = next((t for t in TIME_BASES if t >= want), TIME_BASES[-1])
        else:
            tb = 100e-3
        i_peak = float(np.nanmax(np.abs(w.current_ua))) if np.isfinite(w.current_ua).any() else 1.0
        v_peak = float(np.nanmax(np.abs(w.voltage_v))) if np.isfinite(w.voltage_v).any() else 0.1
        i_scale = next((s for s in CURRENT_SCALES if s * 3.5 >= i_peak), CURRENT_SCALES[-1])
        v_scale = next((s for s in VOLTAGE_SCALES if s * 3.5 >= v_peak), VOLTAGE_SCALES[-1])
        self.set_roll(False)
        self.set_channel("current", scale=i_scale, offset=0.0)
        self.set_channel("voltage", scale=v_scale, offset=0.0)
        self.set_trigger(mode=TriggerMode.AUTO, source=TriggerSource.SYNC, pre_fraction=0.1)
        self.set_time_base(tb)
        if self.frozen:
            self.freeze(False)
        self.reset_statistics()

    def reset_statistics(self) -> None:
        self.stats.reset()
        self._update_table(force=True)

    def displayed_capture(self) -> Capture | None:
        """What is on screen: the frozen/selected capture, the latest sweep, or the roll
        window."""
        if self.frozen and 0 <= self.history_pos < len(self.history):
            return self.history[self.history_pos]
        if self.roll:
            return self._roll_capture()
        return self.shown

    def export_metadata(self, cap: Capture) -> dict[str, object]:
        meta: dict[str, object] = {"exported": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if cap.wall_time:
            meta["captured"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(cap.wall_time))
        meta["triggered"] = "yes" if cap.triggered else "no (free-running)"
        for k, v in self.device_info.items():
            meta[f"device_{k}"] = v
        if self.settings is not None:
            s = self.settings
            meta.update(
                {
                    "waveform": s.waveform.label,
                    "frequency_hz": s.frequency_hz,
                    "amplitude_ua": s.amplitude_ua,
                    "polarity": s.polarity.label,
                    "alternate_s": s.alternate_s,
                    "ramp_s": s.ramp_s,
                }
            )
        meta.update(
            {
                "time_base_s_per_div": self.time_base,
                "current_scale_ua_per_div": self.i_scale,
                "voltage_scale_v_per_div": self.v_scale,
            }
        )
        if cap.metadata.get("averaged"):
            meta["averaged_sweeps"] = cap.metadata["averaged"]
        if self.still and self.zoom is not None:
            meta["zoom_s"] = f"{self.zoom[0]:.9g}..{self.zoom[1]:.9g}"
        meta["measurements_of"] = self.measurement_scope(cap)
        t = self.trigger
        meta.update(
            {
                "trigger_mode": t.mode.value,
                "trigger_source": t.source.value,
                "trigger_edge": t.edge.value,
                "trigger_level": t.level,
                "trigger_pre_fraction": t.pre_fraction,
                "trigger_holdoff_s": t.holdoff_s,
            }
        )
        return meta

    def export_caption(self, cap: Capture) -> list[str]:
        """The lines printed under an exported picture: time, device, settings, trigger,
        scales, mask and the measurements of the capture on screen."""
        meta = self.export_metadata(cap)
        lines = [
            f"Captured {meta.get('captured', '—')} · exported {meta['exported']}"
            f" · {'triggered' if cap.triggered else 'free-running'}"
        ]
        device = " ".join(
            str(self.device_info[k]) for k in ("model", "serial") if k in self.device_info
        )
        if device:
            lines[0] += f" · device {device}"
        entry = next((e for e in self.history.entries if e.capture is cap), None)
        if entry is not None and (entry.label or entry.pinned):
            lines[0] += " · capture" + (" pinned" if entry.pinned else "")
            lines[0] += f" “{entry.label}”" if entry.label else ""
        s = self.settings
        if s is not None:
            lines.append(
                f"Settings: {s.waveform.label} {s.frequency_hz:g} Hz, "
                f"{s.amplitude_ua:g} µA, {s.polarity.label}, "
                f"flip every {s.alternate_s:g} s, ramp {s.ramp_s:g} s"
            )
        else:
            lines.append("Settings: none (no reference)")
        t = self.trigger
        unit = "V" if t.source == TriggerSource.VOLTAGE else "µA"
        level = (
            ""
            if t.source == TriggerSource.SYNC
            else f", {t.edge.value.lower()} at {t.level:g} {unit}"
        )
        lines.append(
            f"Trigger: {t.mode.value}, {t.source.value}{level}, "
            f"{t.pre_fraction * 100:.0f} % pre, holdoff {t.holdoff_s * 1000:g} ms · "
            f"{_step_label(self.time_base, 's')}, "
            f"{_step_label(self.i_scale * 1e-6, 'A')}, "
            f"{_step_label(self.v_scale, 'V')}, {cap.sample_rate:g} S/s"
        )
        if self.mask_enabled and self.settings is not None:
            lines[-1] += f" · mask ± {self.mask.settings.tolerance_pct:g} %: " + (
                f"FAIL × {self.mask.fail_count}" if self.mask.fail_count else "pass"
            )
        m = measure(self._measured_capture(cap))
        lines.append(self.measurement_scope(cap))
        cells = [
            f"{label} {measurement_text(key, m[key], unit)}"
            for key, (label, unit) in MEASUREMENTS.items()
            if math.isfinite(m.get(key, math.nan))
        ]
        for k in range(0, len(cells), 5):
            lines.append(("Measurements: " if k == 0 else "") + " · ".join(cells[k : k + 5]))
        return lines

    def export_csv(self, path: str | Path) -> Path:
        cap = self.displayed_capture()
        if cap is None:
            raise ValueError("nothing to export: no capture on screen yet")
        write_csv(path, cap, self.export_metadata(cap))
        return Path(path)

    def export_png(self, path: str | Path) -> Path:
        """The plot with the time, settings, trigger and measurements printed under it
        (also stored as PNG text chunks: ``Caption`` and one per export_metadata key)."""
        cap = self.displayed_capture()
        if cap is None:
            raise ValueError("nothing to export: no capture on screen yet")
        plot = self.plot.grab().toImage()
        lines = self.export_caption(cap)
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        metrics = QFontMetrics(font)
        pad = 8
        height = plot.height() + pad * 2 + metrics.lineSpacing() * len(lines)
        img = QImage(plot.width(), height, QImage.Format.Format_RGB32)
        img.fill(QColor(BACKGROUND))
        painter = QPainter(img)
        try:
            painter.drawImage(0, 0, plot)
            painter.setFont(font)
            painter.setPen(QColor(palette.SCOPE_TEXT))
            y = plot.height() + pad + metrics.ascent()
            for line in lines:
                painter.drawText(
                    pad,
                    y,
                    metrics.elidedText(line, Qt.TextElideMode.ElideRight, img.width() - 2 * pad),
                )
                y += metrics.lineSpacing()
        finally:
            painter.end()
        img.setText("Caption", "\n".join(lines))
        for key, value in self.export_metadata(cap).items():
            img.setText(key, str(value))
        if not img.save(str(path), "PNG"):
            raise OSError(f"could not write the image {path}")
        return Path(path)

    # ------------------------------------------------- averaging and persistence
    def set_averaging(self, count: int) -> None:
        """Average the last ``count`` triggered sweeps (1: off); starts a new average."""
        count = int(count)
        if count not in AVERAGE_COUNTS:
            raise ValueError(
                f"average over one of {', '.join(map(str, AVERAGE_COUNTS))} sweeps, got {count}"
            )
        self.averager.count = count
        _select_data(self.average_combo, count)
        self._update_status()

    def set_persistence(self, half_life_s: float) -> None:
        """Persistence with the given half-life in seconds (0: off; inf: never fades)."""
        half_life_s = float(half_life_s)
        if half_life_s and half_life_s not in HALF_LIVES_S:
            raise ValueError(
                "persistence half-life must be off (0) or one of "
                + ", ".join(f"{h:g}" for h in HALF_LIVES_S)
                + f" s, got {half_life_s:g}"
            )
        self.persistence_on = half_life_s > 0
        if self.persistence_on:
            self.persistence.half_life_s = half_life_s
        self._clear_persistence()
        _select_data(self.persist_combo, half_life_s)

    def _clear_persistence(self) -> None:
        for name, persistence in self.persistences.items():
            persistence.clear()
            self._persist_shown[name] = None
            self.persist_images[name].setVisible(False)

    def _add_persistence(self) -> None:
        """Add the sweep just drawn (each trace, as min/max per column) to its trace's
        image and show each image that changed by at least one grey level (once per new
        sweep)."""
        if self._last_env is None or self.roll:
            return
        x, *traces = self._last_env
        vb = self.plot.getPlotItem().getViewBox()
        cols = max(50, int(vb.width()))
        rows = max(40, int(vb.height()))
        x_range = self._x_range()
        y_range = (-Y_DIVS / 2, Y_DIVS / 2)
        rect = QRectF(x_range[0], y_range[0], x_range[1] - x_range[0], y_range[1] - y_range[0])
        now = time.monotonic()
        changed = False
        for (name, persistence), y in zip(self.persistences.items(), traces, strict=True):
            persistence.configure(cols, rows, x_range, y_range)
            persistence.add(x, y, now)
            img = persistence.graded()
            old = self._persist_shown[name]
            if old is not None and old.shape == img.shape and np.max(np.abs(old - img)) < 1 / 255:
                continue  # this picture would not change: it is not repainted
            self._persist_shown[name] = img
            image = self.persist_images[name]
            image.setImage(img, autoLevels=False, levels=(0.0, 1.0))
            image.setRect(rect)
            image.setVisible(True)
            changed = True
        self.persist_updates += changed

    # ------------------------------------------------------------- zoom and pan
    @property
    def still(self) -> bool:
        """The picture stands still and can be zoomed: frozen, or a Single capture taken
        (STOPPED until Arm)."""
        return self.frozen or (
            not self.roll
            and self.trigger.mode == TriggerMode.SINGLE
            and not self.acquirer.armed
            and self.shown is not None
        )

    def _min_width(self) -> float:
        cap = self.displayed_capture()
        fs = cap.sample_rate if cap is not None else (self.ring.sample_rate or 10_000.0)
        return MIN_SAMPLES / fs

    def _enable_zoom(self, on: bool) -> None:
        """Still (frozen or a Single capture taken): the mouse zooms (wheel) and pans
        (drag) the time axis, within the capture's screen; running: the view is fixed."""
        pi = self.plot.getPlotItem()
        vb = pi.getViewBox()
        pi.setMouseEnabled(x=bool(on), y=False)
        if on:
            lo, hi = self._full_range()
            vb.setLimits(xMin=lo, xMax=hi, minXRange=self._min_width(), maxXRange=hi - lo)
        else:
            vb.setLimits(xMin=None, xMax=None, minXRange=None, maxXRange=None)
        self.zoom_out_button.setEnabled(bool(on) and self.zoom is not None)

    def _set_zoom(self, span: Span | None) -> None:
        full = self._full_range()
        self.zoom = span if span is not None and is_zoomed(span, full) else None
        self._apply_x_only()
        self.zoom_out_button.setEnabled(self.still and self.zoom is not None)
        self._drawn = None
        cap = self.displayed_capture()
        if cap is not None and self.still:
            self._show_capture(cap, measure_it=True)
        self._update_status()

    def zoom_by(self, factor: float, at: float | None = None) -> None:
        """Frozen: zoom the time axis by ``factor`` (> 1 in) around time ``at`` (default
        the centre of the view). Running, the view follows the time base: nothing."""
        if not self.still:
            return
        full = self._full_range()
        self._set_zoom(zoom_span(self._x_range(), full, factor, at, self._min_width()))

    def pan_by(self, fraction: float) -> None:
        """Frozen: move the view by ``fraction`` of its width (positive: later)."""
        if not self.still:
            return
        full = self._full_range()
        self._set_zoom(pan_span(self._x_range(), full, fraction, self._min_width()))

    def reset_zoom(self) -> None:
        """Show the whole capture again."""
        self._set_zoom(None)

    def _view_range_changed(self, _vb=None, rng=None) -> None:
        """The mouse zoomed or panned the view (pyqtgraph's ViewBox): follow it."""
        if self._setting_range or not self.still:
            return
        lo, hi = self.plot.getPlotItem().getViewBox().viewRange()[0]
        full = self._full_range()
        lo, hi = max(lo, full[0]), min(hi, full[1])
        if hi <= lo:
            return
        self.zoom = (lo, hi) if is_zoomed((lo, hi), full) else None
        div = (hi - lo) / X_DIVS
        self._taxis.x0, self._taxis.div = lo, div
        self.graticule.set_x(lo, div)
        self._taxis.picture = None
        self.zoom_out_button.setEnabled(self.zoom is not None)
        self._drawn = None
        self._dirty = True  # redrawn (and measured) by the next frame, not per mouse event

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Keys on the plot, frozen: + / − zoom, ← / → pan, Home shows everything."""
        if obj is self.plot and event.type() == QEvent.Type.KeyPress and self.still:
            key = event.key()  # type: ignore[attr-defined]
            actions = {
                Qt.Key.Key_Plus: lambda: self.zoom_by(ZOOM_STEP),
                Qt.Key.Key_Equal: lambda: self.zoom_by(ZOOM_STEP),
                Qt.Key.Key_Minus: lambda: self.zoom_by(1 / ZOOM_STEP),
                Qt.Key.Key_Left: lambda: self.pan_by(-PAN_STEP),
                Qt.Key.Key_Right: lambda: self.pan_by(PAN_STEP),
                Qt.Key.Key_Home: self.reset_zoom,
                Qt.Key.Key_0: self.reset_zoom,
            }
            action = actions.get(key)
            if action is not None:
                action()
                return True
        return super().eventFilter(obj, event)

    def _measured_capture(self, cap: Capture) -> Capture:
        """What the measurements are computed on: the zoomed view's samples, or all."""
        if self.still and self.zoom is not None:
            try:
                return visible_capture(cap, self.zoom)
            except ValueError:
                return cap
        return cap

    def measurement_scope(self, cap: Capture | None = None) -> str:
        """Which samples the measurements describe, in words."""
        cap = cap or self.displayed_capture()
        if cap is None:
            return ""
        avg = cap.metadata.get("averaged")
        what = f"the average of {avg} sweeps" if avg else "the capture"
        if self.still and self.zoom is not None:
            lo, hi = self.zoom
            return (
                f"Measured: zoomed view {pg.siFormat(lo, precision=3, suffix='s')} … "
                f"{pg.siFormat(hi, precision=3, suffix='s')} of {what}"
            )
        return f"Measured: the whole of {what}"

    def _update_measure_scope(self, cap: Capture | None = None) -> None:
        _set_text(self.measure_scope_label, self.measurement_scope(cap))

    # ------------------------------------------------------ history pin and label
    def _current_entry_index(self) -> int | None:
        if self.frozen and 0 <= self.history_pos < len(self.history):
            return self.history_pos
        return None

    def pin_capture(self, pinned: bool = True, index: int | None = None) -> None:
        """Pin (keep) the capture on screen (frozen) or the newest one."""
        k = self._entry_index(index)
        self.history.pin(k, pinned)
        self._update_status()

    def label_capture(self, label: str, index: int | None = None) -> None:
        """Name the capture on screen (frozen) or the newest one; plain text, one line."""
        k = self._entry_index(index)
        self.history.set_label(k, label)
        self._update_status()

    def _entry_index(self, index: int | None) -> int:
        if not self.history:
            raise ValueError("no capture to pin or label yet")
        if index is None:
            index = self._current_entry_index()
        return len(self.history) - 1 if index is None else int(index)

    def _pin_toggled(self, on: bool) -> None:
        if not self.history:
            self.pin_button.setChecked(False)
            return
        try:
            self.pin_capture(on)
        except ValueError as exc:
            _warn(self, "Cannot pin", str(exc))
            self._update_status()

    def _label_dialog(self) -> None:
        if not self.history:
            return
        k = self._entry_index(None)
        text, ok = QInputDialog.getText(
            self, "Label the capture", "Label:", text=self.history.entries[k].label
        )
        if ok:
            self.label_capture(text, k)

    # ------------------------------------------------------------ saved sessions
    def session_settings(self) -> dict[str, object]:
        t = self.trigger
        return {
            "time_base_s_per_div": self.time_base,
            "current_scale_ua_per_div": self.i_scale,
            "current_offset_ua": self.i_offset,
            "voltage_scale_v_per_div": self.v_scale,
            "voltage_offset_v": self.v_offset,
            "trigger_mode": t.mode.value,
            "trigger_source": t.source.value,
            "trigger_edge": t.edge.value,
            "trigger_level": t.level,
            "trigger_pre_fraction": t.pre_fraction,
            "trigger_holdoff_s": t.holdoff_s,
            "mask_enabled": self.mask_enabled,
            "mask_tolerance_pct": self.mask.settings.tolerance_pct,
            "reference_shown": self.ref_check.isChecked(),
            "average_count": self.averager.count,
            "persistence": self.persistence_on,
            "persistence_half_life_s": (
                -1.0 if math.isinf(self.persistence.half_life_s) else self.persistence.half_life_s
            ),
            "zoom_s": list(self.zoom) if self.still and self.zoom is not None else None,
        }

    def save_session(self, path: str | Path) -> Path:
        """Save the history (captures with time, pin and label) and the settings."""
        if not self.history:
            raise ValueError("nothing to save: no captures yet")
        p = Path(path)
        if p.suffix != SESSION_SUFFIX:
            p = p.with_name(p.name + SESSION_SUFFIX)
        session = ScopeSession(
            entries=list(self.history.entries),
            settings=self.session_settings(),
            output=self.settings,
            shown=self.history_pos if self.frozen else len(self.history) - 1,
        )
        return save_session(p, session)

    def load_session(self, path: str | Path) -> ScopeSession:
        """Show a saved session, frozen on the capture that was on screen. Everything is
        checked before anything changes; SessionFileError names what is wrong."""
        session = load_session(path)
        plan = self._session_plan(session, Path(path))
        self.freeze(True)
        for apply in plan:
            apply()
        self.history.clear()
        for e in session.entries:
            self.history.entries.append(e)
        self.history_pos = session.shown
        zoom = session.settings.get("zoom_s")
        self.zoom = None
        self._enable_zoom(True)
        self.stats.reset()
        if zoom is not None:
            self._set_zoom(zoom)
        else:
            self._set_zoom(None)
        self._update_status()
        return session

    def _session_plan(self, session: ScopeSession, path: Path) -> list:
        """The changes a session makes, each checked first (raises SessionFileError)."""
        st = session.settings
        plan: list = []

        def bad(key: str, why: str) -> SessionFileError:
            return SessionFileError(f"{path}: settings.{key} {why}")

        tb = st.get("time_base_s_per_div")
        if tb is not None:
            match = [t for t in TIME_BASES if math.isclose(t, tb, rel_tol=1e-9)]
            if not match:
                raise bad("time_base_s_per_div", f"{tb:g} s/div is not a time base here")
            plan.append(lambda: self.set_time_base(match[0]))
        for key, steps, channel in (
            ("current_scale_ua_per_div", CURRENT_SCALES, "current"),
            ("voltage_scale_v_per_div", VOLTAGE_SCALES, "voltage"),
        ):
            x = st.get(key)
            if x is not None:
                m = [v for v in steps if math.isclose(v, x, rel_tol=1e-9)]
                if not m:
                    raise bad(key, f"{x:g} is not a scale here")
                plan.append(lambda c=channel, v=m[0]: self.set_channel(c, scale=v))
        for key, channel, limit in (
            ("current_offset_ua", "current", 5000.0),
            ("voltage_offset_v", "voltage", 100.0),
        ):
            x = st.get(key)
            if x is not None:
                if abs(x) > limit:
                    raise bad(key, f"{x:g} is out of range (±{limit:g})")
                plan.append(lambda c=channel, v=x: self.set_channel(c, offset=v))
        trig: dict[str, object] = {}
        for key, enum, name in (
            ("trigger_mode", TriggerMode, "mode"),
            ("trigger_source", TriggerSource, "source"),
            ("trigger_edge", Edge, "edge"),
        ):
            if key in st:
                try:
                    trig[name] = enum(st[key])
                except ValueError:
                    raise bad(key, f"'{st[key][:20]}' is not one of this scope's") from None
        for key, name in (
            ("trigger_level", "level"),
            ("trigger_pre_fraction", "pre_fraction"),
            ("trigger_holdoff_s", "holdoff_s"),
        ):
            if key in st:
                trig[name] = st[key]
        if trig:
            try:
                replace(self.trigger, **trig)
            except ValueError as exc:
                raise SessionFileError(f"{path}: settings: {exc}") from None
            plan.append(lambda: self.set_trigger(**trig))
        tol = st.get("mask_tolerance_pct")
        if tol is not None:
            if not 1 <= tol <= 100:
                raise bad("mask_tolerance_pct", f"{tol:g} is not 1..100 %")
            plan.append(lambda: self.set_mask_tolerance(tol))
        if "mask_enabled" in st:
            plan.append(lambda: self.set_mask_enabled(st["mask_enabled"]))
        if "reference_shown" in st:
            plan.append(lambda: self.ref_check.setChecked(st["reference_shown"]))
        n = st.get("average_count")
        if n is not None:
            if n not in AVERAGE_COUNTS:
                raise bad("average_count", f"{n} is not one of the choices")
            plan.append(lambda: self.set_averaging(n))
        if "persistence" in st:
            hl = st.get("persistence_half_life_s", 2.0)
            hl = math.inf if hl == -1.0 else hl
            if st["persistence"] and hl not in HALF_LIVES_S:
                raise bad("persistence_half_life_s", f"{hl:g} s is not one of the choices")
            plan.append(lambda: self.set_persistence(hl if st["persistence"] else 0.0))
        if session.output is not None and self.ring.newest is None:
            # offline (no live stream): the session's output is the reference and caption
            plan.append(lambda: self.set_reference(session.output))
        return plan

    def _save_session_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save scope session",
            "scope-session" + SESSION_SUFFIX,
            f"Scope sessions (*{SESSION_SUFFIX})",
        )
        if path:
            try:
                self.save_session(path)
            except (OSError, ValueError) as exc:
                _warn(self, "Save failed", f"Could not save the session: {exc}")

    def _open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open scope session", "", f"Scope sessions (*{SESSION_SUFFIX})"
        )
        if path:
            try:
                self.load_session(path)
            except SessionFileError as exc:
                _warn(self, "Cannot open the session", str(exc))

    # ---------------------------------------------------------------- rendering
    def _frame(self) -> None:
        self.render_frame()  # looked up on each frame: a benchmark may wrap it

    def _slow_frame(self) -> None:
        """The slow timer's frame, left out while blocks bring their own frames (one is
        scheduled, or one was drawn less than FRAME_MS ago): no second frame on top."""
        if self._soon.isActive() or time.monotonic() < self._frame_due:
            return
        self._frame()

    def render_frame(self) -> None:
        """Timer slot: take the newest capture / roll window and redraw if anything new."""
        self._frame_due = max(self._frame_due, time.monotonic()) + FRAME_MS / 1000.0
        if not self.frozen:
            if self.roll:
                if self.ring.newest is not None and self.ring.newest != self._ring_seen:
                    self._ring_seen = self.ring.newest
                    self._draw_roll()
            else:
                cap = self.acquirer.poll()
                if cap is not None:
                    cap = self.averager.add(cap)
                    self.history.append(cap)
                    self._show_capture(cap, measure_it=False)
                    if not self.acquirer.armed:  # Single: stopped, zoomable
                        self._enable_zoom(True)
                    if self.persistence_on:
                        self._add_persistence()
                    self._update_status()
        if self._dirty:
            self._dirty = False
            cap = self.displayed_capture() if not self.roll or self.frozen else None
            if cap is not None:
                # frozen (a zoom, a scale): measured again, the view may have changed
                self._show_capture(cap, measure_it=self.still)
            elif self.roll and self.ring.newest is not None:
                self._draw_roll()
        now = time.monotonic()
        if self.last_measurements and now - self._last_table >= TABLE_INTERVAL_S:
            self._update_table()

    def _columns(self) -> int:
        return max(100, int(self.plot.getPlotItem().getViewBox().width()))

    def _x_range(self) -> tuple[float, float]:
        if self.still and self.zoom is not None:
            return self.zoom
        return self._full_range()

    def _full_range(self) -> tuple[float, float]:
        """The unzoomed x range: ten divisions of the time base (roll: ending now; also
        frozen, where the roll window's newest sample is at 0 s)."""
        span = X_DIVS * self.time_base
        if self.roll:
            return -span, 0.0
        pre = self.trigger.pre_fraction
        return -pre * span, (1.0 - pre) * span

    def _window_samples(self) -> int:
        fs = self.ring.sample_rate or 10_000.0
        return max(2, min(self.ring.capacity, int(round(X_DIVS * self.time_base * fs))))

    def _roll_capture(self) -> Capture | None:
        if self.ring.newest is None:
            return None
        n = self._window_samples()
        w = self.ring.latest(n)
        return Capture(
            sample_rate=w.sample_rate,
            start_index=w.start,
            trigger_offset=n - 1,
            current_ua=w.current_ua,
            voltage_v=w.voltage_v,
            reference_ua=w.reference_ua,
            flags=w.flags,
            triggered=False,
            wall_time=time.time(),
        )

    def _draw_roll(self) -> None:
        n = self._window_samples()
        w = self.ring.latest(n)
        dt = 1.0 / w.sample_rate
        self._draw(w.current_ua, w.voltage_v, w.reference_ua, -(n - 1) * dt, dt)
        now = time.monotonic()
        if now - self._last_measure >= ROLL_MEASURE_INTERVAL_S and self._measuring():
            self._last_measure = now
            m = measure(
                Capture(w.sample_rate, w.start, n - 1, w.current_ua, w.voltage_v, w.reference_ua)
            )
            self._publish(m)

    def _show_capture(self, cap: Capture, *, measure_it: bool) -> None:
        self.shown = cap if not self.frozen else self.shown
        dt = 1.0 / cap.sample_rate
        self._draw(cap.current_ua, cap.voltage_v, cap.reference_ua, -cap.trigger_offset * dt, dt)
        if self.spectrum_check.isChecked():
            self._update_spectrum(cap)
        now = time.monotonic()
        if measure_it or (now - self._last_measure >= MEASURE_INTERVAL_S and self._measuring()):
            self._last_measure = now
            # Statistics describe the delivered output: captures with the output off
            # (idle noise before a start) are measured and shown, but not accumulated.
            self._publish(
                measure(self._measured_capture(cap)),
                add_stats=not self.frozen and _output_was_on(cap),
            )
            self._update_measure_scope(cap)
            if self.frozen:
                self._update_table(force=True)

    def _spectrum_toggled(self, on: bool) -> None:
        self.spectrum_plot.setVisible(on)
        self.spectrum_label.setVisible(on)
        if on:
            self._update_spectrum()

    def _update_spectrum(self, cap: Capture | None = None) -> None:
        """The spectrum of the capture on screen (its current), with the chosen window."""
        cap = cap or self.shown
        if cap is None or not self.spectrum_check.isChecked() or len(cap) < 8:
            return
        sp = spectrum(cap.current_ua, cap.sample_rate, self.spectrum_window.currentText())
        self.last_spectrum = sp
        amp = np.maximum(sp.amplitude[1:], 1e-3)  # log axis: no zeros; DC left out
        self.spectrum_curve.setData(sp.frequency_hz[1:], amp)
        f, a = sp.peak()
        self.spectrum_label.setText(
            f"peak {f:.4g} Hz · {a:.3g} µA · DC {sp.amplitude[0]:.3g} µA · "
            f"resolution {sp.resolution_hz:.3g} Hz"
        )

    def _measuring(self) -> bool:
        """Live measurements are wanted: the full scope shows them in its table; the
        compact one (the desk's, no table) only for a listener of measurements_updated."""
        if not self.compact:
            return True
        return self.isSignalConnected(QMetaMethod.fromSignal(self.measurements_updated))

    def _publish(self, m: dict[str, float], add_stats: bool = True) -> None:
        self.last_measurements = m
        if add_stats:
            self.stats.add(m)
        self.measurements_updated.emit(dict(m))

    def _draw(self, cur, volt, ref, t0: float, dt: float) -> None:
        x_lo, x_hi = self._x_range()
        cols = self._columns()
        show_ref = ref is not None and self.ref_check.isChecked() and bool(np.isfinite(ref).any())
        show_mask = show_ref and self.mask_enabled and not (self.roll and not self.frozen)
        arrays = [cur, volt]
        if show_ref:
            arrays.append(ref)
        if show_mask:
            lo, hi = mask_bounds(ref, self.mask.tolerance_ua, self.mask.half_window(1.0 / dt))
            arrays += [lo, hi]
        x, ys = envelopes(arrays, t0, dt, x_lo, x_hi, cols)
        ik, vk = 1.0 / self.i_scale, 1.0 / self.v_scale
        empty = np.zeros(0)
        # in screen divisions: current, voltage, reference, mask low, mask high
        divs = [
            (ys[0] - self.i_offset) * ik,
            (ys[1] - self.v_offset) * vk,
            (ys[2] - self.i_offset) * ik if show_ref else empty,
            (ys[3] - self.i_offset) * ik if show_mask else empty,
            (ys[4] - self.i_offset) * ik if show_mask else empty,
        ]
        self._last_env = (x, divs[0], divs[1])
        height_px = self.plot.getPlotItem().getViewBox().height()
        tol = Y_DIVS * DRAW_TOLERANCE_PX / height_px if height_px > 0 else 0.0
        if self._unchanged(x, divs, tol):
            self.frames_unchanged += 1
            return
        self._drawn = (x, divs, tol)
        self.current_curve.setData(x, divs[0])
        self.voltage_curve.setData(x, divs[1])
        self.ref_curve.setData(*((x, divs[2]) if show_ref else (empty, empty)))
        self.mask_lo_curve.setData(*((x, divs[3]) if show_mask else (empty, empty)))
        self.mask_hi_curve.setData(*((x, divs[4]) if show_mask else (empty, empty)))
        self.frames_drawn += 1

    def _unchanged(self, x: np.ndarray, divs: list[np.ndarray], tol: float) -> bool:
        """True if every curve is within ``tol`` divisions of what is drawn, with gaps
        (NaN) in the same places: drawing it again would change no pixel worth one."""
        if self._drawn is None or tol <= 0:
            return False
        old_x, old, old_tol = self._drawn
        if old_tol != tol or old_x.shape != x.shape or not np.array_equal(old_x, x):
            return False
        for a, b in zip(divs, old, strict=True):
            if a.shape != b.shape:
                return False
            if not a.size:
                continue
            gap_a, gap_b = np.isnan(a), np.isnan(b)
            if not np.array_equal(gap_a, gap_b):
                return False
            with np.errstate(invalid="ignore"):
                if np.nanmax(np.abs(a - b), initial=0.0) > tol:
                    return False
        return True

    def _curves(self):
        return (
            self.current_curve,
            self.voltage_curve,
            self.ref_curve,
            self.mask_hi_curve,
            self.mask_lo_curve,
        )

    # --------------------------------------------------------------- internals
    def _mark_dirty(self) -> None:
        self._dirty = True
        self._drawn = None  # scales, offsets or what is shown changed: draw in full
        self._update_axes()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._drawn = None  # a resize while hidden: draw afresh
        if not self._timer.isActive():
            self._timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._timer.stop()  # nobody sees it: no frames (samples are still taken in)
        self._soon.stop()
        super().hideEvent(event)

    def _apply_timebase(self) -> None:
        self.zoom = None
        self._enable_zoom(self.still)
        self.trigger_time_line.setVisible(not self.roll)
        self._configure_acquirer()
        self._ring_seen = None
        self._mark_dirty()
        self._update_status()

    def _configure_acquirer(self) -> None:
        t = self.trigger
        if t.source == TriggerSource.CURRENT:
            hyst = 0.1 * self.i_scale
        elif t.source == TriggerSource.VOLTAGE:
            hyst = 0.1 * self.v_scale
        else:
            hyst = 0.0
        self.trigger = replace(t, hysteresis=hyst)
        self.acquirer.configure(self.trigger, self._window_samples())
        self.averager.reset()  # the sweeps to come are cut differently: a new average
        self._clear_persistence()
        self.trigger_line.setVisible(t.source != TriggerSource.SYNC and not self.roll)
        if not self.still:
            self.zoom = None  # running again: the view is the time base
        self._enable_zoom(self.still)
        self.edge_combo.setEnabled(t.source != TriggerSource.SYNC)
        self.arm_button.setEnabled(t.mode == TriggerMode.SINGLE)
        self._show_level()
        self._apply_x_only()

    def _apply_x_only(self) -> None:
        x_lo, x_hi = self._x_range()
        div = (x_hi - x_lo) / X_DIVS
        self._taxis.x0 = x_lo
        self._taxis.div = div
        self.graticule.set_x(x_lo, div)
        self._setting_range = True
        try:
            self.plot.getPlotItem().setXRange(x_lo, x_hi, padding=0)
        finally:
            self._setting_range = False
        self._taxis.picture = None
        self._taxis.update()

    def _trigger_dragged(self) -> None:
        y = self.trigger_line.value()
        if self.trigger.source == TriggerSource.VOLTAGE:
            level = self.v_offset + y * self.v_scale
        else:
            level = self.i_offset + y * self.i_scale
        self.trigger = replace(self.trigger, level=level)
        self.acquirer.set_level(level)
        self.level_spin.blockSignals(True)
        self.level_spin.setValue(level)
        self.level_spin.blockSignals(False)
        self._update_status()

    def _update_axes(self) -> None:
        self._iaxis.scale, self._iaxis.offset = self.i_scale * 1e-6, self.i_offset * 1e-6
        self._vaxis.scale, self._vaxis.offset = self.v_scale, self.v_offset
        for ax in (self._iaxis, self._vaxis):
            ax.picture = None
            ax.update()
        self._update_cursor_readout()

    def _sync_controls(self) -> None:
        pairs = (
            (self.trig_mode_combo, self.trigger.mode.value),
            (self.source_combo, self.trigger.source.value),
            (self.edge_combo, self.trigger.edge.value),
        )
        for combo, text in pairs:
            combo.blockSignals(True)
            combo.setCurrentText(text)
            combo.blockSignals(False)
        for widget, value in (
            (self.pre_spin, self.trigger.pre_fraction * 100),
            (self.holdoff_spin, self.trigger.holdoff_s * 1000),
            (self.i_offset_spin, self.i_offset),
            (self.v_offset_spin, self.v_offset),
        ):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        for combo, steps, value in (
            (self.i_scale_combo, CURRENT_SCALES, self.i_scale),
            (self.v_scale_combo, VOLTAGE_SCALES, self.v_scale),
        ):
            if value in steps:
                combo.blockSignals(True)
                combo.setCurrentIndex(steps.index(value))
                combo.blockSignals(False)

    def _update_status(self) -> None:
        entry = None
        if self.frozen:
            n = len(self.history)
            text, colour = "FROZEN", palette.SCOPE_FROZEN
            if self.zoom is not None:
                lo, hi = self._full_range()
                text += f" · zoom ×{(hi - lo) / (self.zoom[1] - self.zoom[0]):.3g}"
            where = f"capture {self.history_pos + 1}/{n}" if n else "no captures"
            if 0 <= self.history_pos < n:
                entry = self.history.entries[self.history_pos]
                if entry.pinned:
                    where += " · pinned"
                if entry.label:
                    where += f" · {entry.label}"
            _set_text(self.history_label, where)
        elif self.roll:
            text, colour = "ROLL", palette.SCOPE_RUNNING
            _set_text(self.history_label, f"{len(self.history)} captures")
        elif not self.acquirer.armed:
            text, colour = "STOPPED (Single)", palette.SCOPE_STOPPED
            if self.zoom is not None:
                lo, hi = self._full_range()
                text += f" · zoom ×{(hi - lo) / (self.zoom[1] - self.zoom[0]):.3g}"
        elif self.shown is not None and self.shown.triggered:
            text, colour = f"TRIG'D {self.trigger.mode.value}", palette.SCOPE_RUNNING
            if self.averager.enabled:
                text += f" · avg {self.averager.sweeps}/{self.averager.count}"
        elif self.shown is not None:
            text, colour = "AUTO (no trigger)", palette.SCOPE_WAITING
        else:
            text, colour = "WAITING", palette.SCOPE_WAITING
        if not self.frozen and not self.roll:
            _set_text(self.history_label, f"{len(self.history)} captures")
        _set_text(self.status_label, text)
        sheet = f"color: {colour}; background: {BACKGROUND}; padding: 3px 8px; font-weight: bold"
        if self.status_label.styleSheet() != sheet:  # set again, it restyles and repaints
            self.status_label.setStyleSheet(sheet)
        self.prev_button.setEnabled(bool(self.history))
        self.next_button.setEnabled(bool(self.history))
        for w in (self.pin_button, self.label_button, self.save_session_button):
            w.setEnabled(bool(self.history))
        if entry is None and self.history:
            entry = self.history.entries[-1]
        pinned = entry is not None and entry.pinned
        if self.pin_button.isChecked() != pinned:
            self.pin_button.blockSignals(True)
            self.pin_button.setChecked(pinned)
            self.pin_button.blockSignals(False)
        if entry is not None:
            when = (
                time.strftime("%H:%M:%S", time.localtime(entry.time)) if entry.time else "unknown"
            )
            # a tooltip would render a label like "<b>x</b>" as rich text: escaped
            label = f" · label: {html.escape(entry.label)}" if entry.label else ""
            tip = f"<p>Taken at {when}{label}</p>"
            if self.history_label.toolTip() != tip:
                self.history_label.setToolTip(tip)

    def _update_mask_label(self, compliance: bool) -> None:
        if not self.mask_enabled or self.settings is None:
            self.mask_label.setText("Mask off" if not self.mask_enabled else "Mask: no reference")
            self.mask_label.setStyleSheet(f"color: {palette.SCOPE_MASK_OFF}; padding: 3px 8px")
            return
        n = self.mask.fail_count
        if n:
            extra = " (compliance)" if compliance else ""
            self.mask_label.setText(f"MASK FAIL × {n}{extra}")
            self.mask_label.setStyleSheet(
                f"color: {palette.SCOPE_MASK_FAIL_TEXT}; background: {palette.SCOPE_MASK_FAIL};"
                " padding: 3px 8px; font-weight: bold"
            )
            lines = [
                f"t = {e.time_s:.4f} s  (sample {e.index}): "
                f"{e.deviation_ua:.1f} µA outside" + (", compliance" if e.compliance else "")
                for e in self.mask.log[-8:]
            ]
            self.mask_label.setToolTip("Latest mask failures:\n" + "\n".join(lines))
        else:
            self.mask_label.setToolTip("No failed period since the last reset")
            self.mask_label.setText("Mask pass")
            self.mask_label.setStyleSheet(
                f"color: {palette.SCOPE_RUNNING}; background: {BACKGROUND}; padding: 3px 8px"
            )

    def _update_table(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_table < TABLE_INTERVAL_S:
            return
        self._last_table = now
        if not force and not self.table.isVisible():  # the desk's compact scope: no table
            return
        m = self.last_measurements
        changed: set[int] = set()
        for row, (key, (_label, unit)) in enumerate(MEASUREMENTS.items()):
            lo, mean, hi, _n = self.stats.summary(key)
            for col, x in enumerate((m.get(key, float("nan")), lo, mean, hi), start=1):
                item = self.table.item(row, col)
                text = measurement_text(key, x, unit)
                if item.text() != text:
                    item.setText(text)
                    changed.add(col)
        self._fit_table_columns(changed)
        _set_text(self.stats_label, f"Statistics over {self.stats.captures} captures")

    def _fit_table_columns(self, columns) -> None:
        """Each figure column as wide as its widest text (or its header): what
        ResizeToContents gave, measured once a refresh instead of once a changed cell."""
        header = self.table.horizontalHeader()
        for col in columns:
            width = max(self.table.sizeHintForColumn(col), header.sectionSizeHint(col))
            if header.sectionSize(col) != width:
                header.resizeSection(col, width)

    def _update_cursor_readout(self) -> None:
        if not self.cursor_check.isChecked():
            self.cursor_label.setText("")
            self.cursor_label.hide()
            return
        c = self.cursor_values()
        cell = "<td style='padding: 1px 10px 1px 0'>"

        def row(colour: str, *cells: str) -> str:
            return (
                f"<tr style='color:{colour}'>"
                + "".join(f"{cell}{text}</td>" for text in cells)
                + "</tr>"
            )

        self.cursor_label.setText(
            "<table>"
            + row(
                CURSOR_COLOUR,
                f"T1 {si(c['t1_s'], 's')}",
                f"T2 {si(c['t2_s'], 's')}",
                f"<b>ΔT {si(c['dt_s'], 's')}</b>",
                f"<b>1/ΔT {si(c['inv_dt_hz'], 'Hz')}</b>",
            )
            + row(
                CURRENT_COLOUR,
                f"I1 {si(c['i1_ua'] * 1e-6, 'A')}",
                f"I2 {si(c['i2_ua'] * 1e-6, 'A')}",
                f"<b>ΔI {si(c['di_ua'] * 1e-6, 'A')}</b>",
                "",
            )
            + row(
                VOLTAGE_COLOUR,
                f"V1 {si(c['v1_v'], 'V')}",
                f"V2 {si(c['v2_v'], 'V')}",
                f"<b>ΔV {si(c['dv_v'], 'V')}</b>",
                "",
            )
            + "</table>"
        )
        self.cursor_label.show()

    def _export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export capture as CSV", "capture.csv", "CSV files (*.csv)"
        )
        if path:
            try:
                self.export_csv(path)
            except (OSError, ValueError) as exc:
                _warn(self, "Export failed", f"Could not export: {exc}")

    def _export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export picture as PNG", "capture.png", "PNG images (*.png)"
        )
        if path:
            try:
                self.export_png(path)
            except (OSError, ValueError) as exc:
                _warn(self, "Export failed", f"Could not export: {exc}")


def _warn(parent: QWidget, title: str, text: str) -> None:
    """A warning shown as plain text (it may quote a file name or a file's contents)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def _select_data(combo: QComboBox, value: object) -> None:
    """Select the item holding ``value`` without emitting (no feedback loop)."""
    idx = combo.findData(value)
    if idx >= 0 and idx != combo.currentIndex():
        combo.blockSignals(True)
        combo.setCurrentIndex(idx)
        combo.blockSignals(False)


def _set_text(label: QLabel, text: str) -> None:
    """Set a label's text only when it changes (an equal text still relayouts)."""
    if label.text() != text:
        label.setText(text)


def measure_freq(current: np.ndarray, sample_rate: float) -> float:
    return measure_arrays(current, current, sample_rate).get("frequency_hz", float("nan"))
