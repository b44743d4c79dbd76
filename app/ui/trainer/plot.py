"""The studio's plot: ideal vs delivered current with annotations, and the electrode voltage.

A view only: :class:`StudioPlot` receives ready-made arrays (:class:`Frame`) and the
:class:`~app.teaching.annotations.Annotations` to draw, and draws each curve with one
``setData``. Every item is created once and shown, moved or hidden afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app import palette
from app.device.waveform import Waveform
from app.teaching.annotations import Annotations

BACKGROUND = palette.TRAINER_BACKGROUND
FOREGROUND = palette.TRAINER_FOREGROUND
DELIVERED = palette.TRAINER_DELIVERED  # amber: what the device delivers
IDEAL = palette.TRAINER_IDEAL  # white dashed: what was commanded
VOLTAGE = palette.TRAINER_VOLTAGE
OVERLAYS = palette.TRAINER_OVERLAYS  # cyan, magenta, green
POS_FILL = palette.TRAINER_POS_FILL
NEG_FILL = palette.TRAINER_NEG_FILL
ANNOT = palette.TRAINER_ANNOTATION
GRID = palette.TRAINER_GRID
TEXT_BG = palette.TRAINER_TEXT_BACKGROUND  # behind annotation text: legible over a waveform
FLIP = palette.TRAINER_FLIP
RAMP = palette.TRAINER_RAMP
EVENT = palette.TRAINER_EVENT
EVENT_ROWS = (0.04, 0.11, 0.18, 0.25)  # label heights (fraction of the plot) of events
MAX_EVENT_LINES = 16
DRAW_TOLERANCE_PX = 1.0  # a live sweep within this of what is drawn is not drawn again


@dataclass
class Frame:
    """What to draw: shared x (s), current/ideal/voltage curves and overlay traces."""

    x: np.ndarray
    delivered: np.ndarray
    ideal: np.ndarray | None
    voltage: np.ndarray
    # (shared x of the overlays or None, [(name, y), ...])
    overlays: tuple[np.ndarray | None, list[tuple[str, np.ndarray]]] = field(
        default_factory=lambda: (None, [])
    )
    x_range: tuple[float, float] = (0.0, 1.0)
    y_amplitude: float = 100.0  # the current axis shows ±1.4 x this
    events: list[tuple[float, str]] = field(default_factory=list)
    x_label: str = "time in sweep"


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_freq(hz: float) -> str:
    if not math.isfinite(hz):
        return "—"
    return f"{hz:.2f} Hz" if hz < 100 else f"{hz:.0f} Hz"


def format_charge(uc: float) -> str:
    """Three significant digits: +2.54 µC, +150 µC, −0.0400 µC; 0 below 0.5 nC."""
    if not math.isfinite(uc):
        return "—"
    if abs(uc) < 0.0005:
        return "0 µC"
    digits = max(0, 2 - int(math.floor(math.log10(abs(uc)))))
    return f"{uc:+.{digits}f} µC".replace("-", "−")


def _nice_ceiling(x: float) -> float:
    """The next of 1, 1.5, 2, 3, 5, 7.5 x 10^n at or above ``x`` (a steady voltage axis)."""
    if not (math.isfinite(x) and x > 0):
        return 1.0
    base = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0):
        if m * base >= x * (1 - 1e-9):
            return m * base
    return 10.0 * base


def ramp_name(a: Annotations) -> str:
    """ "ramp" (output start) or "burst ramp-up" (the BURST envelope rising)."""
    burst = a.commanded is not None and a.commanded.waveform == Waveform.BURST
    return "burst ramp-up" if burst else "ramp"


def shaded_charge(mean_uc: float, own_uc: float) -> float:
    """The charge written on a shaded phase: the measured charge per phase (the scope's
    figure, the mean over the view) when the shaded pulse holds it to within 5 %; the
    pulse's own charge when it differs (a pulse of other settings after a change, or a
    pulse cut short): a label never claims a whole phase's charge for a fragment."""
    if not math.isfinite(own_uc):
        return mean_uc
    if not math.isfinite(mean_uc) or abs(abs(own_uc) - abs(mean_uc)) > 0.05 * abs(mean_uc):
        return abs(own_uc)
    return mean_uc


def _grid_steps(lo: float, hi: float, about: int) -> np.ndarray:
    """Round positions (1, 2, 5 x 10^n apart) inside [lo, hi], about ``about`` of them."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return np.zeros(0)
    raw = span / about
    base = 10.0 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1.0, 2.0, 5.0, 10.0) if m * base >= raw)
    first = math.ceil(lo / step) * step
    return np.arange(first, hi + 1e-9 * span, step)


def _tick(v: float) -> str:
    """A tick label without float noise: 0.1 not 0.1000000001, 150 not 150.0."""
    text = f"{v:.6g}"
    return "0" if text in ("-0", "0") else text.replace("-", "−")


def _has_data(y: np.ndarray) -> bool:
    return bool(np.isfinite(y).any())


class StudioPlot(QWidget):
    """Current plot (annotated) above a smaller electrode-voltage plot, sharing time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presentation = False
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(BACKGROUND)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)
        self.cplot = self.glw.addPlot(row=0, col=0)
        self.vplot = self.glw.addPlot(row=1, col=0)
        self.glw.ci.layout.setRowStretchFactor(0, 3)
        self.glw.ci.layout.setRowStretchFactor(1, 1)
        self.vplot.setXLink(self.cplot)
        for p in (self.cplot, self.vplot):
            p.setMenuEnabled(False)
            p.hideButtons()
            p.setMouseEnabled(x=False, y=False)
            p.showGrid(x=False, y=False)
            p.getViewBox().setDefaultPadding(0.0)
        self.cplot.setLabel("left", "current (µA)", color=FOREGROUND)
        self.vplot.setLabel("left", "voltage (V)", color=VOLTAGE)
        self.cplot.getAxis("left").enableAutoSIPrefix(False)
        self.cplot.getAxis("bottom").setStyle(showValues=False)  # the voltage plot's axis
        self.vplot.getAxis("left").enableAutoSIPrefix(False)
        self.vplot.getAxis("bottom").enableAutoSIPrefix(False)  # ticks are set in ms or s
        # the legend is a line of text above the plot: it never hides the waveform
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"background: {BACKGROUND}; padding: 4px 8px;")
        lay.insertWidget(0, self.legend)
        self.legend_entries: list[str] = []

        # grid: one solid path per plot (pyqtgraph's alpha-blended grid costs ~20 ms a frame)
        self.grids = []
        for p in (self.cplot, self.vplot):
            g = pg.PlotCurveItem(pen=pg.mkPen(GRID, width=1), connect="pairs")
            g.setZValue(-10)
            p.addItem(g, ignoreBounds=True)
            self.grids.append(g)
        cp = self.cplot
        self.zero_line = pg.InfiniteLine(
            pos=0, angle=0, pen=pg.mkPen(palette.TRAINER_ZERO_LINE, width=1)
        )
        cp.addItem(self.zero_line, ignoreBounds=True)
        self.pos_fill = pg.PlotDataItem(pen=None, fillLevel=0.0, brush=pg.mkBrush(*POS_FILL))
        self.neg_fill = pg.PlotDataItem(pen=None, fillLevel=0.0, brush=pg.mkBrush(*NEG_FILL))
        for item in (self.pos_fill, self.neg_fill):
            item.setZValue(1)
            cp.addItem(item)
        self.overlay_curves = []
        for k, colour in enumerate(OVERLAYS):
            c = pg.PlotDataItem(pen=pg.mkPen(colour, width=2), connect="finite")
            c.setZValue(2 + k)
            self.overlay_curves.append(c)
            cp.addItem(c)
        self.ideal_curve = pg.PlotDataItem(
            pen=pg.mkPen(IDEAL, width=2, style=Qt.PenStyle.DashLine),
            connect="finite",
            name="Ideal (commanded)",
        )
        self.ideal_curve.setZValue(6)
        self.delivered_curve = pg.PlotDataItem(
            pen=pg.mkPen(DELIVERED, width=2), connect="finite", name="Delivered"
        )
        self.delivered_curve.setZValue(5)
        cp.addItem(self.delivered_curve)
        cp.addItem(self.ideal_curve)
        self.voltage_curve = pg.PlotDataItem(pen=pg.mkPen(VOLTAGE, width=2), connect="finite")
        self.vplot.addItem(self.voltage_curve)

        # annotations
        apen = pg.mkPen(ANNOT, width=2)
        self.period_line = pg.PlotCurveItem(pen=apen)
        self.period_ticks = pg.PlotCurveItem(pen=pg.mkPen(ANNOT, width=1), connect="pairs")
        self.period_arrows = [
            pg.ArrowItem(angle=a, headLen=14, tipAngle=35, pen=apen, brush=ANNOT) for a in (0, 180)
        ]
        self.period_text = pg.TextItem(color=ANNOT, anchor=(0.5, 1.0), fill=TEXT_BG)
        self.amp_line = pg.PlotCurveItem(pen=apen)
        self.amp_arrow = pg.ArrowItem(angle=90, headLen=14, tipAngle=35, pen=apen, brush=ANNOT)
        self.amp_text = pg.TextItem(color=ANNOT, anchor=(0.0, 0.5), fill=TEXT_BG)
        self.qpos_text = pg.TextItem(color=DELIVERED, anchor=(0.5, 0.5), fill=TEXT_BG)
        self.qneg_text = pg.TextItem(color=VOLTAGE, anchor=(0.5, 0.5), fill=TEXT_BG)
        self.net_text = pg.TextItem(color=ANNOT, anchor=(0.0, 1.0), fill=TEXT_BG)
        self.ramp_line = pg.PlotCurveItem(pen=pg.mkPen(RAMP, width=3, style=Qt.PenStyle.DashLine))
        self.ramp_text = pg.TextItem(color=RAMP, anchor=(1.0, 1.0), fill=TEXT_BG)
        self.flip_lines = [
            pg.InfiniteLine(
                angle=90,
                pen=pg.mkPen(FLIP, width=2, style=Qt.PenStyle.DashLine),
                label="",
                labelOpts={
                    "position": 0.965,
                    "color": FLIP,
                    "fill": palette.TRAINER_LABEL_BACKGROUND,
                },
            )
            for _ in range(4)
        ]
        self.event_lines = [
            pg.InfiniteLine(
                angle=90,
                pen=pg.mkPen(EVENT, width=1),
                label="",
                labelOpts={
                    "position": 0.04,
                    "color": EVENT,
                    "anchors": [(0, 0.5)] * 2,
                    "fill": palette.TRAINER_LABEL_BACKGROUND,
                },
            )
            for _ in range(MAX_EVENT_LINES)
        ]
        self._annot_items = [
            self.period_line,
            self.period_ticks,
            *self.period_arrows,
            self.period_text,
            self.amp_line,
            self.amp_arrow,
            self.amp_text,
            self.qpos_text,
            self.qneg_text,
            self.net_text,
            self.ramp_line,
            self.ramp_text,
            *self.flip_lines,
        ]
        for item in self._annot_items + self.event_lines:
            item.setZValue(20)
            cp.addItem(item, ignoreBounds=True)
            item.setVisible(False)
        self.net_text.setZValue(21)  # event lines pass behind the net-charge box
        self.annotations: Annotations | None = None
        self._frame: Frame | None = None
        self._ranges: tuple | None = None
        self.set_presentation(False)

    # ---------------------------------------------------------------- appearance
    def set_presentation(self, on: bool) -> None:
        """Large fonts and thick lines for a projector; normal sizes otherwise."""
        self.presentation = on
        size = 22 if on else 11
        tick = QFont()
        tick.setPointSize(18 if on else 9)
        vtick = QFont()
        vtick.setPointSize(14 if on else 9)
        label_css = {"font-size": f"{size}pt", "color": FOREGROUND}
        self._label_css = label_css
        self._x_label = getattr(self, "_x_label", "time in sweep")
        self.vplot.setLabel("bottom", f"{self._x_label} (s)", **label_css)
        self._ranges = None
        for p in (self.cplot, self.vplot):
            for name in ("left", "bottom"):
                ax = p.getAxis(name)
                ax.setTickFont(vtick if (p is self.vplot and name == "left") else tick)
                ax.setTextPen(FOREGROUND)
                ax.setPen(palette.TRAINER_AXIS)
                if name == "left":
                    ax.setWidth(120 if on else 60)
        self.cplot.setLabel("left", "current (µA)", **label_css)
        self.vplot.setLabel("left", "voltage (V)", **{**label_css, "color": VOLTAGE})
        font = QFont()
        font.setPointSize(22 if on else 11)
        font.setBold(True)
        for t in (self.period_text, self.amp_text, self.net_text, self.ramp_text):
            t.setFont(font)
        qfont = QFont(font)
        qfont.setPointSize(18 if on else 11)  # inside the shaded phase: must fit
        for t in (self.qpos_text, self.qneg_text):
            t.setFont(qfont)
        for line in self.flip_lines + self.event_lines:
            line.label.setFont(font)
        width = 5 if on else 2
        self.delivered_curve.setPen(pg.mkPen(DELIVERED, width=width))
        self.ideal_curve.setPen(
            pg.mkPen(IDEAL, width=max(2, width - 2), style=Qt.PenStyle.DashLine)
        )
        self.voltage_curve.setPen(pg.mkPen(VOLTAGE, width=max(2, width - 1)))
        for c, colour in zip(self.overlay_curves, OVERLAYS, strict=True):
            c.setPen(pg.mkPen(colour, width=width - 1 if on else 2))
        self._legend_size = size
        self.glw.ci.layout.setRowStretchFactor(1, 1)
        if self._frame is not None:
            self._rebuild_legend(self._frame)
            self.show_frame(self._frame)
        if self.annotations is not None:
            self.show_annotations(self.annotations)

    # ------------------------------------------------------------------- drawing
    def _axes_of(self, f: Frame) -> tuple:
        """(x range, ± current axis, ± voltage axis) that ``f`` is drawn on."""
        a = max(f.y_amplitude, 1.0)
        with np.errstate(invalid="ignore"):
            vmax = float(np.nanmax(np.abs(f.voltage))) if _has_data(f.voltage) else 1.0
        vmax = 1.15 * max(vmax, 0.1)
        return (f.x_range, round(1.45 * a, 1), _nice_ceiling(vmax))

    def shows_already(self, f: Frame) -> bool:
        """True if drawing ``f`` would change no pixel worth one: the same axes, legend,
        events and overlays, and every curve within DRAW_TOLERANCE_PX of what is drawn,
        with gaps in the same places (an idle flat trace is not drawn again)."""
        old = self._frame
        if old is None or self._ranges is None or f.x_label != old.x_label:
            return False
        axes, drawn = self._axes_of(f), self._ranges
        c_tol = DRAW_TOLERANCE_PX * 2 * drawn[1] / max(self.cplot.getViewBox().height(), 1.0)
        v_tol = DRAW_TOLERANCE_PX * 2 * drawn[2] / max(self.vplot.getViewBox().height(), 1.0)
        # the current axis follows the largest value: noise moves it by less than a pixel
        if (axes[0], axes[2]) != (drawn[0], drawn[2]) or abs(axes[1] - drawn[1]) > c_tol:
            return False
        if f.events != old.events:
            return False
        if not np.array_equal(f.x, old.x) or (f.ideal is None) != (old.ideal is None):
            return False
        o_x, o_traces = f.overlays
        old_x = old.overlays[0]
        if [n for n, _ in o_traces] != [n for n, _ in old.overlays[1]]:
            return False
        if o_x is None or old_x is None:
            if (o_x is None) != (old_x is None):
                return False
        elif not np.array_equal(o_x, old_x):
            return False
        pairs = [(f.delivered, old.delivered, c_tol), (f.voltage, old.voltage, v_tol)]
        if f.ideal is not None and old.ideal is not None:
            pairs.append((f.ideal, old.ideal, c_tol))
        pairs += [(y, oy, c_tol) for (_, y), (_, oy) in zip(o_traces, old.overlays[1], strict=True)]
        for new, was, tol in pairs:
            if new.shape != was.shape:
                return False
            gaps = np.isnan(new)
            if not np.array_equal(gaps, np.isnan(was)):
                return False
            with np.errstate(invalid="ignore"):
                if np.nanmax(np.abs(new - was), initial=0.0) > tol:
                    return False
        return True

    def show_frame(self, f: Frame) -> None:
        legend_changed = (
            self._frame is None
            or [n for n, _ in self._frame.overlays[1]] != [n for n, _ in f.overlays[1]]
            or (self._frame.ideal is None) != (f.ideal is None)
            or _has_data(self._frame.delivered) != _has_data(f.delivered)
        )
        self._frame = f
        self.delivered_curve.setData(f.x, f.delivered)
        if f.ideal is not None:
            self.ideal_curve.setData(f.x, f.ideal)
        self.ideal_curve.setVisible(f.ideal is not None)
        self.voltage_curve.setData(f.x, f.voltage)
        for k, c in enumerate(self.overlay_curves):
            if k < len(f.overlays[1]):
                c.setData(f.overlays[0], f.overlays[1][k][1])
                c.setVisible(True)
            else:
                c.setVisible(False)
        if f.x_label != self._x_label:
            self._x_label = f.x_label
            self._ranges = None
        ranges = self._axes_of(f)
        if ranges != self._ranges:  # axes repaint only when their range really changes
            self._ranges = ranges
            self.cplot.setXRange(*f.x_range, padding=0)
            self.cplot.setYRange(-ranges[1], ranges[1], padding=0)
            self.vplot.setYRange(-ranges[2], ranges[2], padding=0)
            self._draw_grid(f.x_range, ranges[1], ranges[2])
        self._place_events(f)
        if legend_changed:
            self._rebuild_legend(f)

    def _place_events(self, f: Frame) -> None:
        """Event lines with their labels to the right, on the lowest of a few rows where
        a label does not cover an earlier one (or the net-charge box in the corner). An
        event with no free row (or beyond the lines there are) is counted in the label
        before it: "… (+N more)"."""
        x0, x1 = f.x_range
        per_px = (x1 - x0) / max(self.cplot.getViewBox().width(), 1.0)
        rows_end = [-math.inf] * len(EVENT_ROWS)
        if self.net_text.isVisible():  # drawn from the left edge, on the lowest row
            rows_end[0] = x0 + (self.net_text.textItem.boundingRect().width() + 6) * per_px
        lines = iter(self.event_lines)
        last: list | None = None  # [line, text, row, t, hidden] of the newest label

        def show(line, t: float, text: str, row: int | None) -> None:
            line.setPos(t)
            line.label.setFormat(text.replace("{", "{{").replace("}", "}}"))
            line.label.setText(text)  # setFormat alone redraws only on a move
            line.setVisible(True)
            if row is not None:
                line.label.setPosition(EVENT_ROWS[row])
                width = line.label.textItem.boundingRect().width()
                rows_end[row] = max(rows_end[row], t + (width + 6) * per_px)

        unlabelled: list[float] = []
        for t, text in f.events:
            free = [r for r, end in enumerate(rows_end) if end <= t]
            line = next(lines, None) if (free or last is None) else None
            if line is not None:
                row = free[0] if free else 0
                show(line, t, text, row)
                last = [line, text, row, t, 0]
            elif last is not None:
                unlabelled.append(t)
                last[4] += 1
                show(last[0], last[3], f"{last[1]} (+{last[4]} more)", last[2])
        for line in lines:  # lines left over: those of the events counted in a label
            if unlabelled:
                show(line, unlabelled.pop(0), "", None)
            else:
                line.setVisible(False)

    def _draw_grid(self, x_range: tuple[float, float], y_c: float, y_v: float) -> None:
        """Grid lines and axis ticks at the same round values (ms below 2 s across)."""
        x0, x1 = x_range
        xs = _grid_steps(x0, x1, 10)
        in_ms = (x1 - x0) < 2.0 and x0 == 0.0  # a sweep in ms; session time in s
        unit = "ms" if in_ms else "s"
        self.vplot.getAxis("bottom").setTicks([[(x, _tick(x * 1e3 if in_ms else x)) for x in xs]])
        self.cplot.getAxis("bottom").setTicks([[(x, "") for x in xs]])
        self.vplot.setLabel("bottom", f"{self._x_label} ({unit})", **self._label_css)
        for g, plot, ylim, about in (
            (self.grids[0], self.cplot, y_c, 8),
            (self.grids[1], self.vplot, y_v, 4),
        ):
            ys = _grid_steps(-ylim, ylim, about)
            plot.getAxis("left").setTicks([[(y, _tick(y)) for y in ys]])
            px = np.repeat(xs, 2)
            py = np.tile([-ylim, ylim], xs.size)
            qx = np.tile([x0, x1], ys.size)
            qy = np.repeat(ys, 2)
            g.setData(np.concatenate([px, qx]), np.concatenate([py, qy]))

    def _rebuild_legend(self, f: Frame) -> None:
        entries: list[tuple[str, str, str]] = []  # (colour, line, name)
        if _has_data(f.delivered):
            entries.append((DELIVERED, "━━", "Delivered"))
        if f.ideal is not None:
            entries.append((IDEAL, "╍╍", "Ideal (commanded)"))
        for k, (name, _) in enumerate(f.overlays[1]):
            entries.append((OVERLAYS[k], "━━", name))
        self.legend_entries = [name for _, _, name in entries]
        size = getattr(self, "_legend_size", 11)
        self.legend.setText(
            f"<span style='font-size:{size}pt; color:{FOREGROUND}'>"
            + "&nbsp;&nbsp;&nbsp; ".join(
                f"<span style='color:{c}'><b>{line}</b></span>&nbsp;{name}"
                for c, line, name in entries
            )
            + "</span>"
        )
        self.legend.setVisible(bool(entries))

    def clear_annotations(self) -> None:
        self.annotations = None
        for item in self._annot_items:
            item.setVisible(False)

    def show_annotations(self, a: Annotations) -> None:
        """Place the marks of ``a`` (times on the plot's x axis)."""
        self.annotations = a
        f = self._frame
        amp = a.amplitude_ua
        have_amp = math.isfinite(amp) and amp > 0
        scale = f.y_amplitude if f is not None else (amp if have_amp else 100.0)
        # period: dimension arrow above the wave
        if a.period_span is not None and have_amp:
            t0, t1 = a.period_span
            y = 1.22 * scale
            self.period_line.setData([t0, t1], [y, y])
            self.period_ticks.setData(
                [t0, t0, t1, t1],
                [y - 0.1 * scale, y + 0.1 * scale, y - 0.1 * scale, y + 0.1 * scale],
            )
            self.period_arrows[0].setPos(t0, y)
            self.period_arrows[1].setPos(t1, y)
            self.period_text.setText(
                "ramping: T and f once settled"
                if a.ramping
                else f"T = {_fmt_time(a.period_s)}   f = {_fmt_freq(a.frequency_hz)}"
            )
            self.period_text.setPos(0.5 * (t0 + t1), y + 0.02 * scale)
            self._show(self.period_line, self.period_ticks, *self.period_arrows, self.period_text)
        else:
            self._hide(self.period_line, self.period_ticks, *self.period_arrows, self.period_text)
        # charge: shade one phase of each sign
        for phase, own, fill, text, sign in (
            (a.positive_phase, a.positive_phase_uc, self.pos_fill, self.qpos_text, 1),
            (a.negative_phase, a.negative_phase_uc, self.neg_fill, self.qneg_text, -1),
        ):
            q = shaded_charge(a.charge_per_phase_uc, own)
            if phase is not None and f is not None and have_amp:
                sel = (f.x >= phase[0]) & (f.x <= phase[1])
                xs, ys = f.x[sel], np.nan_to_num(f.delivered[sel])
                fill.setData(xs, ys)
                fill.setVisible(True)
                text.setText(f"Q/phase\n{format_charge(sign * abs(q))}")
                text.setPos(0.5 * (phase[0] + phase[1]), sign * 0.5 * amp)
                text.setVisible(True)
            else:
                fill.setVisible(False)
                text.setVisible(False)
        # amplitude: vertical arrow from 0 to the peak at the first shaded phase
        phase = a.positive_phase or a.negative_phase
        if phase is not None and have_amp:
            sign = 1 if a.positive_phase is not None else -1
            x = phase[0] + 0.15 * (phase[1] - phase[0])
            self.amp_line.setData([x, x], [0.0, sign * amp])
            self.amp_arrow.setStyle(angle=90 if sign > 0 else -90)
            self.amp_arrow.setPos(x, sign * amp)
            cmd = ""
            if a.commanded is not None:
                cmd = f" (set {a.commanded.amplitude_ua:.0f})"
            self.amp_text.setText(f"peak {amp:.0f} µA{cmd}")
            self.amp_text.setAnchor((0.0, 1.0) if sign > 0 else (0.0, 0.0))
            self.amp_text.setPos(x, sign * 1.03 * amp)
            self._show(self.amp_line, self.amp_arrow, self.amp_text)
        else:
            self._hide(self.amp_line, self.amp_arrow, self.amp_text)
        # net charge per period: a box in the bottom-left corner (flip labels are at the
        # top, event labels at the bottom, the period arrow and the peak in the middle)
        if f is not None and math.isfinite(a.net_charge_uc):
            bal = (
                " (balanced)"
                if abs(a.net_charge_uc) < 0.02 * max(abs(a.charge_per_phase_uc), 1e-9)
                else ""
            )
            if a.flips:
                bal += " — reverses at each polarity flip"
            self.net_text.setText(f"net charge / period: {format_charge(a.net_charge_uc)}{bal}")
            self.net_text.setPos(f.x_range[0], -1.43 * scale)
            self.net_text.setVisible(True)
        else:
            self.net_text.setVisible(False)
        # ramp
        if a.ramp is not None:
            r = a.ramp
            sign = 1 if a.positive_phase is not None or a.negative_phase is None else -1
            self.ramp_line.setData([r.t_start, r.t_end], [0.0, sign * r.level_ua])
            # still ramping at the end of the view: its end is not known yet
            self.ramp_text.setText(
                ("burst ramping up…" if ramp_name(a).startswith("burst") else "ramping…")
                if a.ramping
                else f"{ramp_name(a)} {_fmt_time(r.duration_s)}"
            )
            # label at the middle of the ramp, on its outer side (the wave lies inside)
            self.ramp_text.setAnchor((1.0, 1.0) if sign > 0 else (1.0, 0.0))
            self.ramp_text.setPos(0.5 * (r.t_start + r.t_end), sign * 0.5 * r.level_ua)
            self._show(self.ramp_line, self.ramp_text)
        else:
            self._hide(self.ramp_line, self.ramp_text)
        # polarity flips
        for k, line in enumerate(self.flip_lines):
            if k < len(a.flips):
                flip = a.flips[k]
                line.setPos(flip.t)
                text = "polarity → −" if flip.to_negative else "polarity → +"
                line.label.setFormat(text)
                line.label.setText(text)
                line.setVisible(True)
            else:
                line.setVisible(False)

    @staticmethod
    def _show(*items) -> None:
        for item in items:
            item.setVisible(True)

    @staticmethod
    def _hide(*items) -> None:
        for item in items:
            item.setVisible(False)
