"""The face map: 32 muscle zones (+ procerus, orbicularis oris) to select, follow and review.

The drawing lives in ``resources/face_map.svg`` (designer-editable): group ``art`` is the
face illustration, rendered as is by QtSvg; group ``zones`` holds one path per zone id,
which this module parses into QPainterPaths so zones are painted crisply at any size
and hit-tested exactly. ``ZONE.origin`` / ``ZONE.insertion`` circles mark the muscle's
attachments and ``ZONE.lift`` paths the lifting probe glide (start → end).

The client's right side is drawn on the viewer's left (facing the client); the widget
says so above each half.
"""

from __future__ import annotations

import html
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPicture,
    QPixmap,
    QPolygonF,
    QTextDocument,
    QTransform,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from app import palette
from app.engine.zones import RESOURCES, Zone, load_zones
from app.format import clock as clock_text
from app.format import duration
from app.store.vocabulary import ZoneRule
from app.ui import style

SVG_FILE = RESOURCES / "face_map.svg"
SVG_NS = "{http://www.w3.org/2000/svg}"

STATES = ("pending", "active", "done", "partial", "skipped")
DIRECTIONS = ("none", "upward", "downward", "inward", "outward", "toward_lymph_nodes")

# Look: soft skin, muscle-chart red for idle zones, calm state colours.
BACKGROUND = QColor(palette.FACE_BACKGROUND)
MUSCLE = QColor(palette.FACE_MUSCLE)
MUSCLE_LINE = QColor(palette.FACE_MUSCLE_LINE)
SELECT = QColor(palette.FACE_SELECT)
ARROW = QColor(palette.FACE_ARROW)
TEXT = QColor(palette.FACE_TEXT)
MUTED_TEXT = QColor(palette.FACE_MUTED_TEXT)
STATE_FILL = {
    "pending": QColor(palette.FACE_PENDING),
    "active": QColor(palette.FACE_ACTIVE),
    "done": QColor(palette.FACE_DONE),
    "partial": QColor(palette.FACE_PARTIAL),
    "skipped": QColor(palette.FACE_SKIPPED),
}
STATE_LABEL = {
    "pending": "pending",
    "active": "active now",
    "done": "done",
    "partial": "partly done",
    "skipped": "skipped",
}
# A client's zone screening: an excluded zone is cross-hatched (a pattern, its text on
# the card and in the tooltip: never colour alone); a zone held under a client ceiling
# has a dashed outline and its ceiling written on the card.
EXCLUDED = QColor(palette.FACE_ZONE_EXCLUDED)
OVERRIDDEN = QColor(palette.FACE_ZONE_OVERRIDDEN)
CEILING = QColor(palette.FACE_ZONE_CEILING)
HEAT_STOPS = (
    (0.0, QColor(palette.FACE_HEAT_LOW)),
    (0.5, QColor(palette.FACE_HEAT_MIDDLE)),
    (1.0, QColor(palette.FACE_HEAT_HIGH)),
)
PULSE_PERIOD_S = 1.6
PULSE_INTERVAL_MS = 50


class FaceMapError(ValueError):
    """The face-map drawing is missing or malformed; the message names the element."""


# --------------------------------------------------------------------------- SVG parsing

_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtZzAa]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}


def path_from_svg(d: str, what: str = "path") -> QPainterPath:
    """A QPainterPath from SVG path data (M L H V C S Q T Z, absolute or relative)."""
    tokens = _TOKEN.findall(d)
    path = QPainterPath()
    i, cmd = 0, ""
    cur = start = QPointF(0, 0)
    last_ctrl: QPointF | None = None
    last_cmd = ""

    def nums(n: int) -> list[float]:
        nonlocal i
        if i + n > len(tokens) or any(t.isalpha() for t in tokens[i : i + n]):
            raise FaceMapError(f"{what}: path data ends early after {cmd!r}")
        vals = [float(t) for t in tokens[i : i + n]]
        i += n
        return vals

    while i < len(tokens):
        tok = tokens[i]
        if tok.isalpha():
            cmd = tok
            i += 1
            if cmd in "Aa":
                raise FaceMapError(f"{what}: arcs (A) are not supported; convert them to curves")
            if cmd in "Zz":
                path.closeSubpath()
                cur, last_ctrl, last_cmd = QPointF(start), None, "Z"
                continue
        elif not cmd or cmd in "Zz":
            raise FaceMapError(f"{what}: number {tok!r} without a command")
        up, rel = cmd.upper(), cmd.islower()
        v = nums(_ARGS[up])
        off = cur if rel else QPointF(0, 0)

        def pt(k: int, v: list[float] = v, off: QPointF = off) -> QPointF:
            return QPointF(v[k] + off.x(), v[k + 1] + off.y())

        ctrl: QPointF | None = None
        if up == "M":
            cur = start = pt(0)
            path.moveTo(cur)
            cmd = "l" if rel else "L"  # further pairs are line-tos
        elif up == "L":
            cur = pt(0)
            path.lineTo(cur)
        elif up == "H":
            cur = QPointF(v[0] + (cur.x() if rel else 0), cur.y())
            path.lineTo(cur)
        elif up == "V":
            cur = QPointF(cur.x(), v[0] + (cur.y() if rel else 0))
            path.lineTo(cur)
        elif up == "C":
            c1, ctrl, end = pt(0), pt(2), pt(4)
            path.cubicTo(c1, ctrl, end)
            cur = end
        elif up == "S":
            c1 = (cur * 2 - last_ctrl) if last_ctrl is not None and last_cmd in "CS" else cur
            ctrl, end = pt(0), pt(2)
            path.cubicTo(c1, ctrl, end)
            cur = end
        elif up == "Q":
            ctrl, end = pt(0), pt(2)
            path.quadTo(ctrl, end)
            cur = end
        elif up == "T":
            ctrl = (cur * 2 - last_ctrl) if last_ctrl is not None and last_cmd in "QT" else cur
            end = pt(0)
            path.quadTo(ctrl, end)
            cur = end
        last_ctrl, last_cmd = ctrl, up
    return path


def _float(el: ET.Element, name: str, what: str) -> float:
    try:
        return float(el.get(name, ""))
    except ValueError:
        raise FaceMapError(f"{what}: attribute {name!r} must be a number") from None


@dataclass
class ZoneShape:
    """One zone's geometry in drawing (SVG) coordinates."""

    id: str
    path: QPainterPath
    origin: QPointF
    insertion: QPointF
    lift: QPainterPath
    inner: QPointF = field(default_factory=QPointF)  # a visible interior point

    @property
    def centre(self) -> QPointF:
        return self.inner


@dataclass
class FaceDrawing:
    """The parsed face map: view box, art (as SVG bytes) and the zones' shapes."""

    view_box: QRectF
    art_svg: bytes
    shapes: dict[str, ZoneShape]  # in paint order (later lies on top)
    guides: dict[str, QPointF]


def load_drawing(path: Path = SVG_FILE, zone_ids: list[str] | None = None) -> FaceDrawing:
    """Parse the face-map SVG; every id in ``zone_ids`` must have a zone, anchors and lift."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise FaceMapError(f"{path}: face map drawing not found") from None
    except ET.ParseError as exc:
        raise FaceMapError(f"{path}: not valid SVG/XML ({exc})") from None
    vb = [float(x) for x in re.split(r"[\s,]+", root.get("viewBox", "").strip()) if x]
    if len(vb) != 4 or vb[2] <= 0 or vb[3] <= 0:
        raise FaceMapError(f"{path}: the <svg> element needs a viewBox 'x y width height'")
    groups = {g.get("id"): g for g in root.iter(f"{SVG_NS}g")}
    for name in ("art", "zones", "anchors", "lifts"):
        if name not in groups:
            raise FaceMapError(f"{path}: group <g id={name!r}> is missing")
    # The art alone: a copy of the document without the data groups.
    art_root = ET.fromstring(ET.tostring(root))
    for g in list(art_root):
        if g.get("id") in ("zones", "anchors", "lifts", "guides"):
            art_root.remove(g)
    ET.register_namespace("", SVG_NS[1:-1])
    art_svg = ET.tostring(art_root)

    shapes_raw: dict[str, QPainterPath] = {}
    for el in groups["zones"]:
        zid = el.get("id")
        if not zid:
            raise FaceMapError(f"{path}: an element in group 'zones' has no id")
        if el.tag != f"{SVG_NS}path":
            raise FaceMapError(f"{path}: zone {zid!r} must be a <path>")
        p = path_from_svg(el.get("d", ""), f"{path}: zone {zid!r}")
        if el.get("fill-rule") == "evenodd":
            p.setFillRule(Qt.FillRule.OddEvenFill)
        else:
            p.setFillRule(Qt.FillRule.WindingFill)
        if p.isEmpty():
            raise FaceMapError(f"{path}: zone {zid!r} has no path data")
        shapes_raw[zid] = p
    points: dict[str, QPointF] = {}
    for el in groups["anchors"]:
        aid = el.get("id", "")
        points[aid] = QPointF(_float(el, "cx", aid), _float(el, "cy", aid))
    lifts = {
        el.get("id", ""): path_from_svg(el.get("d", ""), f"{path}: {el.get('id')}")
        for el in groups["lifts"]
    }
    guides = {}
    if "guides" in groups:
        for el in groups["guides"]:
            gid = el.get("id", "")
            guides[gid] = QPointF(_float(el, "cx", gid), _float(el, "cy", gid))

    wanted = list(shapes_raw) if zone_ids is None else list(zone_ids)
    shapes: dict[str, ZoneShape] = {}
    for zid in shapes_raw:
        if zid not in wanted:
            raise FaceMapError(f"{path}: zone {zid!r} is not in resources/zones.json")
    for zid in wanted:
        if zid not in shapes_raw:
            raise FaceMapError(f"{path}: no zone element with id {zid!r}")
        for part in ("origin", "insertion"):
            if f"{zid}.{part}" not in points:
                raise FaceMapError(f"{path}: zone {zid!r} has no <circle id='{zid}.{part}'>")
        if f"{zid}.lift" not in lifts:
            raise FaceMapError(f"{path}: zone {zid!r} has no <path id='{zid}.lift'>")
    for zid in shapes_raw:  # paint order = document order
        shapes[zid] = ZoneShape(
            zid,
            shapes_raw[zid],
            points[f"{zid}.origin"],
            points[f"{zid}.insertion"],
            lifts[f"{zid}.lift"],
        )
    _place_inner_points(shapes)
    return FaceDrawing(QRectF(*vb), art_svg, shapes, guides)


@cache
def _cached_drawing(path: Path, zone_ids: tuple[str, ...]) -> FaceDrawing:
    """One parse per drawing and zone set (the shapes are only read, never changed)."""
    return load_drawing(path, list(zone_ids))


def _place_inner_points(shapes: dict[str, ZoneShape]) -> None:
    """Give each zone a point that lies well inside it and is not covered by a zone on top.

    Candidates on a grid over the zone are tried nearest-to-centre first; the first one
    whose neighbourhood is all inside the zone (and clear of zones above) wins.
    """
    order = list(shapes)
    for n, zid in enumerate(order):
        s = shapes[zid]
        r = s.path.boundingRect()
        above = [
            shapes[o].path for o in order[n + 1 :] if shapes[o].path.boundingRect().intersects(r)
        ]

        def free(q: QPointF, s: ZoneShape = s, above: list[QPainterPath] = above) -> bool:
            return s.path.contains(q) and not any(a.contains(q) for a in above)

        c = r.center()
        steps = 20
        grid = [
            QPointF(r.left() + r.width() * ix / steps, r.top() + r.height() * iy / steps)
            for ix in range(1, steps)
            for iy in range(1, steps)
        ]
        grid.sort(key=lambda q: (q.x() - c.x()) ** 2 + (q.y() - c.y()) ** 2)
        e = max(1.5, min(r.width(), r.height()) / 8)
        near = [QPointF(e, 0), QPointF(-e, 0), QPointF(0, e), QPointF(0, -e)]
        fallback = None
        for q in grid:
            if not free(q):
                continue
            if fallback is None:
                fallback = q
            if all(free(q + d) for d in near):
                s.inner = q
                break
        else:
            if fallback is None:
                raise FaceMapError(f"zone {zid!r} is entirely covered by other zones")
            s.inner = fallback


# --------------------------------------------------------------------------- helpers


def heat_colour(t: float) -> QColor:
    """Sequential heat colour for 0 ≤ t ≤ 1 (pale yellow → orange → deep red)."""
    t = min(1.0, max(0.0, t))
    for (t0, c0), (t1, c1) in zip(HEAT_STOPS, HEAT_STOPS[1:], strict=False):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return QColor.fromRgbF(
                c0.redF() + (c1.redF() - c0.redF()) * f,
                c0.greenF() + (c1.greenF() - c0.greenF()) * f,
                c0.blueF() + (c1.blueF() - c0.blueF()) * f,
            )
    return QColor(HEAT_STOPS[-1][1])


def _fmt_value(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _tint(c: QColor, alpha: float) -> QColor:
    out = QColor(c)
    out.setAlphaF(max(0.0, min(1.0, alpha)))
    return out


# --------------------------------------------------------------------------- the widget


class FaceMapWidget(QWidget):
    """Frontal face with the treatment zones: hover, select, follow a session, show history.

    Signals: ``zone_selected(str)`` when the practitioner clicks a zone or presses Enter on
    the focused one; ``zone_hovered(str)`` ("" when the pointer leaves the zones);
    ``side_filter_changed(object)`` with None, "l" or "r".
    """

    zone_selected = Signal(str)
    zone_hovered = Signal(str)
    side_filter_changed = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        zones: Mapping[str, Zone] | None = None,
        svg_path: Path = SVG_FILE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.zones: dict[str, Zone] = dict(zones) if zones is not None else load_zones()
        self.drawing = _cached_drawing(Path(svg_path), tuple(self.zones))
        self._art = QSvgRenderer(QByteArray(self.drawing.art_svg))
        if not self._art.isValid():
            raise FaceMapError(f"{svg_path}: the art group cannot be rendered")
        self._clock = clock
        self._static: QPixmap | None = None
        self._card_doc: tuple | None = None
        self._xf = QTransform()
        self._face_rect = QRectF()
        self._card_rect = QRectF()
        self._legend_rect = QRectF()

        self._side: str | None = None
        self._hover: str | None = None
        self._focus_zone: str | None = None
        self._selected: str | None = None
        self._states: dict[str, str] = {}
        self._active: str | None = None  # the first of the active zones
        self._actives: tuple[str, ...] = ()
        self._active_direction: str | None = None
        self._totals: dict[str, tuple[float, float]] = {}
        self._heat: dict[str, float] | None = None
        self._heat_label = ""
        self._rules: dict[str, tuple[ZoneRule, ...]] = {}  # the client's zone screening
        self._pulse_t0 = clock()
        self._pulsing = True  # False: the active zones held steady (output paused)

        self._pulse = QTimer(self)
        self._pulse.setInterval(PULSE_INTERVAL_MS)
        self._pulse.timeout.connect(self._pulse_tick)

        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 300)  # the desk fits a 1280 x 800 screen, frame included
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName("Face map")

        # Mirror toggle: treat both sides or one side at a time.
        self.side_buttons: dict[str | None, QToolButton] = {}
        self._side_group = QButtonGroup(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(4)
        for key, text, tip in (
            (None, "Both sides", "Show and treat both sides"),
            ("r", "Client's right", "Treat the client's right side only"),
            ("l", "Client's left", "Treat the client's left side only"),
        ):
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches them; Space presses
            b.setStyleSheet(
                f"QToolButton {{ padding: 4px 10px; border: 1px solid {palette.BORDER};"
                f" border-radius: 4px; background: {palette.WHITE}; }}"
                f"QToolButton:checked {{ background: {palette.ACCENT}; color: {palette.WHITE};"
                f" border-color: {palette.ACCENT}; font-weight: 600; }}"
                f"QToolButton:focus {{ border: 2px solid {style.FOCUS};"
                " padding: 3px 9px; }"
                # on the blue of the chosen side, the ring is near black (see style.py)
                f"QToolButton:checked:focus {{ border: 2px solid {palette.FOCUS_ON_ACCENT};"
                " padding: 3px 9px; }"
            )
            b.clicked.connect(lambda _=False, k=key: self.set_side_filter(k))
            self._side_group.addButton(b)
            self.side_buttons[key] = b
            bar.addWidget(b)
        bar.addStretch(1)
        self.side_buttons[None].setChecked(True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        outer.addLayout(bar)
        outer.addStretch(1)

    # ------------------------------------------------------------------ public API

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(620, 760)

    def zone_ids(self) -> list[str]:
        return list(self.zones)

    def side_filter(self) -> str | None:
        return self._side

    def set_side_filter(self, side: str | None) -> None:
        """Show/treat one side only: None (both), 'l' (client's left) or 'r' (client's right).

        Zones of the other side are dimmed and cannot be hovered, focused or selected;
        the midline zones stay available.
        """
        if side not in (None, "l", "r"):
            raise ValueError(f"side filter must be None, 'l' or 'r', got {side!r}")
        self.side_buttons[side].setChecked(True)
        if side == self._side:
            return
        self._side = side
        for attr in ("_hover", "_focus_zone"):
            if getattr(self, attr) is not None and not self._available(getattr(self, attr)):
                setattr(self, attr, None)
        self._invalidate()
        self.side_filter_changed.emit(side)

    def selected_zone(self) -> str | None:
        return self._selected

    def set_selected(self, zone_id: str | None) -> None:
        """Show ``zone_id`` as selected without emitting ``zone_selected``."""
        if zone_id is not None:
            self._check_zone(zone_id, "set_selected")
        self._selected = zone_id
        self.update()

    def focused_zone(self) -> str | None:
        return self._focus_zone

    def hovered_zone(self) -> str | None:
        return self._hover

    def set_zone_states(self, states: Mapping[str, str]) -> None:
        """Session progress: each zone's state, one of pending/active/done/skipped.

        Zones absent from ``states`` are not part of the session and are drawn faint;
        an empty mapping ends the session view.
        """
        clean = {}
        for zid, state in states.items():
            self._check_zone(zid, "set_zone_states")
            if state not in STATES:
                raise ValueError(
                    f"set_zone_states: zone {zid!r} has unknown state {state!r} "
                    f"(use one of {', '.join(STATES)})"
                )
            clean[zid] = state
        self._states = clean
        self._invalidate()

    def zone_states(self) -> dict[str, str]:
        return dict(self._states)

    def set_zone_rules(self, rules: Sequence[ZoneRule]) -> None:
        """The chosen client's zone screening: excluded zones are cross-hatched, zones
        under a client ceiling outlined (dashed); the card and the tooltip say why."""
        by_zone: dict[str, list[ZoneRule]] = {}
        for rule in rules:
            if rule.zone in self.zones:  # a zone this drawing lacks cannot be shown
                by_zone.setdefault(rule.zone, []).append(rule)
        clean = {z: tuple(r) for z, r in by_zone.items()}
        if clean != self._rules:
            relayout = bool(clean) != bool(self._rules)  # the key's second line
            self._rules = clean
            self.setToolTip(self.zone_rule_text(self._hover) if self._hover else "")
            if relayout:
                self._relayout()
            self._invalidate()

    def zone_rules(self) -> dict[str, tuple[ZoneRule, ...]]:
        return dict(self._rules)

    def excluded(self, zone_id: str) -> bool:
        """The client's screening excludes ``zone_id`` (no acknowledged override)."""
        return any(r.excluded for r in self._rules.get(zone_id, ()))

    def zone_rule_text(self, zone_id: str | None) -> str:
        """What the client's screening says about ``zone_id``, in words ('' if nothing)."""
        if zone_id is None:
            return ""
        lines = []
        for r in self._rules.get(zone_id, ()):
            if r.excluded:
                lines.append(f"Excluded for this client: {r.reason} (skipped by guided runs)")
            elif r.overridden:
                lines.append(f"{r.reason.capitalize()}: excluded, override acknowledged")
            elif r.max_ua is not None:
                lines.append(f"Client ceiling {r.max_ua:g} µA: {r.reason}")
        return "\n".join(lines)

    def set_active(
        self, zone_id: str | Sequence[str] | None, probe_direction: str | None = None
    ) -> None:
        """The zone(s) the running step works on (gently pulsing) and how the probes move.

        ``zone_id`` is one zone id, or several for a step on both sides (e.g.
        ``step.zones``), or None. ``probe_direction`` is a program step direction
        (upward, downward, inward, outward, toward_lymph_nodes, none) or None for each
        zone's own lifting glide.
        """
        ids = () if zone_id is None else (zone_id,) if isinstance(zone_id, str) else tuple(zone_id)
        for zid in ids:
            self._check_zone(zid, "set_active")
        if probe_direction is not None and probe_direction not in DIRECTIONS:
            raise ValueError(
                f"set_active: unknown probe direction {probe_direction!r} "
                f"(use one of {', '.join(DIRECTIONS)})"
            )
        self._actives = tuple(dict.fromkeys(ids))
        self._active = self._actives[0] if self._actives else None
        self._active_direction = probe_direction if self._actives else None
        self._pulse_t0 = self._clock()
        self._sync_pulse()
        self._invalidate()

    def set_pulsing(self, on: bool) -> None:
        """Pulse the active zones (True: the output runs) or hold them steady at half the
        pulse (False: paused); held, the pulse timer stops and nothing repaints."""
        on = bool(on)
        if on == self._pulsing:
            return
        self._pulsing = on
        self._pulse_t0 = self._clock()
        self._sync_pulse()
        self._invalidate()

    def _sync_pulse(self) -> None:
        """The pulse timer runs only while active zones pulse where they can be seen."""
        if self._actives and self._pulsing and self.isVisible():
            self._pulse.start()
        else:
            self._pulse.stop()

    def active_zone(self) -> str | None:
        return self._active

    def active_zones(self) -> tuple[str, ...]:
        return self._actives

    def set_zone_totals(self, totals: Mapping[str, tuple[float, float]]) -> None:
        """Treated time (s) and delivered charge (µC) per zone, shown in the zone card."""
        clean = {}
        for zid, value in totals.items():
            self._check_zone(zid, "set_zone_totals")
            try:
                seconds, charge = (float(x) for x in value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"set_zone_totals: zone {zid!r} needs (seconds, charge_uc), got {value!r}"
                ) from None
            if not (math.isfinite(seconds) and math.isfinite(charge)) or seconds < 0:
                raise ValueError(f"set_zone_totals: zone {zid!r} has invalid totals {value!r}")
            clean[zid] = (seconds, charge)
        self._totals = clean
        self.update()

    def set_heatmap(self, values: Mapping[str, float], label: str) -> None:
        """History heat map: a value per zone (e.g. minutes treated) and what it means."""
        clean = {}
        for zid, v in values.items():
            self._check_zone(zid, "set_heatmap")
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"set_heatmap: zone {zid!r} value {v!r} is not a number") from None
            if not math.isfinite(f) or f < 0:
                raise ValueError(f"set_heatmap: zone {zid!r} value {v!r} must be ≥ 0")
            clean[zid] = f
        self._heat = clean
        self._heat_label = str(label)
        self._relayout()
        self.update()

    def clear_heatmap(self) -> None:
        self._heat = None
        self._heat_label = ""
        self._relayout()
        self.update()

    def heatmap(self) -> dict[str, float] | None:
        return None if self._heat is None else dict(self._heat)

    def zone_at(self, point: QPointF | tuple[float, float]) -> str | None:
        """The zone under ``point`` (widget coordinates), or None; honours the side filter."""
        p = QPointF(*point) if isinstance(point, tuple) else QPointF(point)
        inv, ok = self._xf.inverted()
        if not ok or not self._face_rect.contains(p):
            return None
        q = inv.map(p)
        for zid in reversed(self.drawing.shapes):
            if self._available(zid) and self.drawing.shapes[zid].path.contains(q):
                return zid
        return None

    def map_from_drawing(self, point: QPointF | tuple[float, float]) -> QPointF:
        """Widget coordinates of a point given in the SVG's coordinates."""
        p = QPointF(*point) if isinstance(point, tuple) else QPointF(point)
        return self._xf.map(p)

    def zone_point(self, zone_id: str) -> QPointF:
        """A point (widget coordinates) inside the zone where no other zone lies on top."""
        self._check_zone(zone_id, "zone_point")
        return self._xf.map(self.drawing.shapes[zone_id].inner)

    def pulse_level(self) -> float:
        """0..1: where the active zone's gentle pulse is now (0.5 held: not pulsing)."""
        if not self._pulsing:
            return 0.5
        phase = (self._clock() - self._pulse_t0) / PULSE_PERIOD_S
        return 0.5 - 0.5 * math.cos(2 * math.pi * phase)

    # ------------------------------------------------------------------ internals

    def _check_zone(self, zone_id: str, where: str) -> None:
        if zone_id not in self.zones:
            raise ValueError(f"{where}: unknown zone {zone_id!r}")

    def _available(self, zone_id: str) -> bool:
        side = self.zones[zone_id].side
        return self._side is None or side == "m" or side == self._side

    def _nav_order(self) -> list[str]:
        return [z for z in self.zones if self._available(z)]

    def _relayout(self) -> None:
        w, h = self.width(), self.height()
        top = 8 + max(b.sizeHint().height() for b in self.side_buttons.values()) + 6
        fs = self._font_px()
        header = fs * 1.9
        legend_w = fs * 7.5 if self._heat is not None else 0.0
        if w > h * 1.15:  # landscape: card at the right
            card_w = min(max(w * 0.36, fs * 18), w * 0.5)
            self._card_rect = QRectF(w - card_w - 10, top, card_w, h - top - 10)
            area = QRectF(10, top + header, w - card_w - 30 - legend_w, h - top - header - 10)
        else:  # portrait: card below
            card_h = min(fs * 10.2, h * 0.42)
            self._card_rect = QRectF(10, h - card_h - 10, w - 20, card_h)
            area = QRectF(10, top + header, w - 20 - legend_w, h - top - header - card_h - 20)
        self._legend_rect = (
            QRectF(area.right() + 6, area.top() + fs, legend_w - 6, area.height() - 2 * fs)
            if legend_w
            else QRectF()
        )
        # room for the session key below the face (and the client's zone key under it)
        area.setBottom(area.bottom() - fs * (3.3 if self._rules else 1.8))
        vb = self.drawing.view_box
        scale = max(1e-6, min(area.width() / vb.width(), area.height() / vb.height()))
        fw, fh = vb.width() * scale, vb.height() * scale
        self._face_rect = QRectF(area.center().x() - fw / 2, area.top(), fw, fh)
        self._xf = QTransform()
        self._xf.translate(self._face_rect.left(), self._face_rect.top())
        self._xf.scale(scale, scale)
        self._xf.translate(-vb.left(), -vb.top())
        self._static = None

    def _font_px(self) -> float:
        return max(12.0, min(26.0, min(self.width(), self.height() * 0.8) / 38))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._relayout()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._relayout()
        self._sync_pulse()

    def hideEvent(self, event) -> None:  # noqa: N802
        self._pulse.stop()
        super().hideEvent(event)

    def _pulse_tick(self) -> None:
        if not self._actives or not self._pulsing:
            self._pulse.stop()
            return
        for zid in self._actives:
            s = self.drawing.shapes[zid]
            r = self._xf.mapRect(s.path.boundingRect().united(s.lift.boundingRect()))
            self.update(r.adjusted(-12, -12, 12, 12).toAlignedRect())

    # -------- mouse and keyboard

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._set_hover(self.zone_at(event.position()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._set_hover(None)
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        zid = self.zone_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and zid is not None:
            self._focus_zone = zid
            self._select(zid)
            event.accept()
            return
        super().mousePressEvent(event)

    def _set_hover(self, zid: str | None) -> None:
        if zid != self._hover:
            self._hover = zid
            self.setToolTip(self.zone_rule_text(zid))
            self.zone_hovered.emit(zid or "")
            self.update()

    def _select(self, zid: str) -> None:
        self._selected = zid
        self.update()
        self.zone_selected.emit(zid)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        dirs = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        if key in dirs:
            self._move_focus(*dirs[key])
            event.accept()
        elif (
            key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
            and self._focus_zone is not None
            and not event.isAutoRepeat()
        ):
            self._select(self._focus_zone)
            event.accept()
        else:
            super().keyPressEvent(event)  # Esc and the rest go on to the console

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        """One tab stop: arriving by Tab, the selected (or first) zone has focus; the
        arrow keys move between zones inside the map."""
        by_tab = event.reason() in (
            Qt.FocusReason.TabFocusReason,
            Qt.FocusReason.BacktabFocusReason,
        )
        if by_tab and (self._focus_zone is None or not self._available(self._focus_zone)):
            order = self._nav_order()
            if self._selected is not None and self._available(self._selected):
                self._focus_zone = self._selected
            elif order:
                self._focus_zone = order[0]
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.update()

    def _move_focus(self, dx: int, dy: int) -> None:
        """Move the keyboard focus to the nearest zone in that direction on screen."""
        order = self._nav_order()
        if not order:
            return
        if self._focus_zone not in order:
            self._focus_zone = order[0]
            self.update()
            return
        here = self.drawing.shapes[self._focus_zone].inner
        best, best_score = None, math.inf
        for zid in order:
            if zid == self._focus_zone:
                continue
            p = self.drawing.shapes[zid].inner
            vx, vy = p.x() - here.x(), p.y() - here.y()
            along = vx * dx + vy * dy
            if along <= 1e-6:
                continue
            across = abs(vx * dy - vy * dx)
            if across > along * 2.0:  # more than ~63° off the arrow's direction
                continue
            score = along + 2.5 * across
            if score < best_score:
                best, best_score = zid, score
        if best is not None:
            self._focus_zone = best
            self.update()

    # -------- painting

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        p.drawPixmap(0, 0, self._static_layer())
        scale = self._xf.m11()
        p.save()
        p.setTransform(self._xf, True)
        for zid in self._actives:
            if self._heat is None and self._available(zid):
                # the gentle pulse: an extra translucent layer over the active zone
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(_tint(STATE_FILL["active"], 0.55 * self.pulse_level()))
                p.drawPath(self.drawing.shapes[zid].path)
        if self._hover is not None and self._available(self._hover):
            p.setPen(Qt.PenStyle.NoPen)
            idle = self._heat is None and not self._states
            p.setBrush(_tint(SELECT, 0.3) if idle else QColor(*palette.FACE_HIGHLIGHT))
            p.drawPath(self.drawing.shapes[self._hover].path)
        for zid in (self._selected, self._focus_zone, self._hover):
            if zid is not None and self._available(zid):
                self._paint_outline(p, zid, scale)
        p.restore()
        pointed = self._hover or self._focus_zone
        for zid in (pointed,) if pointed else self._actives:
            if self._heat is not None and zid not in (self._hover, self._focus_zone):
                continue
            direction = self._active_direction if zid in self._actives else None
            arrows = self._paint_arrow(p, zid, direction)
            self._paint_label(p, zid, arrows)
        self._paint_card(p)
        if self.hasFocus():  # the map's own focus ring: one tab stop, clearly visible
            p.setPen(QPen(QColor(style.FOCUS), 2.0))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 4, 4)
        p.end()

    def _invalidate(self) -> None:
        self._static = None
        self.update()

    def _static_layer(self) -> QPixmap:
        """Background, art, zone fills, headers and legends: redrawn only when they change."""
        dpr = self.devicePixelRatioF()
        if (
            self._static is not None
            and self._static.devicePixelRatio() == dpr
            and self._static.size() == self.size() * dpr
        ):
            return self._static
        pm = QPixmap(self.size() * dpr)
        pm.setDevicePixelRatio(dpr)
        pm.fill(BACKGROUND)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self._art.render(p, self._face_rect)
        scale = self._xf.m11()
        p.save()
        p.setTransform(self._xf, True)
        for zid, shape in self.drawing.shapes.items():
            self._paint_zone(p, zid, shape, scale)
        for zid in self._rules:
            if self._available(zid):
                self._paint_rule(p, zid, scale)
        p.restore()
        self._paint_headers(p)
        if self._heat is not None:
            self._paint_legend(p)
        elif self._states or self._rules:
            self._paint_state_legend(p)
        p.end()
        self._static = pm
        return pm

    def _zone_fill(self, zid: str) -> tuple[QColor, QColor, bool]:
        """(fill, outline, hatched) for a zone in the current mode."""
        if not self._available(zid):
            return _tint(MUSCLE, 0.06), _tint(MUSCLE_LINE, 0.15), False
        if self._heat is not None:
            v = self._heat.get(zid, 0.0)
            top = max(self._heat.values(), default=0.0)
            if v <= 0 or top <= 0:
                return QColor(*palette.FACE_HIGHLIGHT), _tint(MUTED_TEXT, 0.35), False
            return (
                _tint(heat_colour(v / top), 0.88),
                _tint(QColor(palette.FACE_HEAT_LINE), 0.5),
                False,
            )
        if zid in self._actives:
            base = STATE_FILL["active"]
            return _tint(base, 0.45), base.darker(140), False
        if self._states:
            state = self._states.get(zid)
            if state is None:
                return _tint(MUSCLE, 0.07), _tint(MUSCLE_LINE, 0.2), False
            base = STATE_FILL[state]
            alpha = {"pending": 0.3, "active": 0.7, "done": 0.6, "partial": 0.45, "skipped": 0.25}[
                state
            ]
            return _tint(base, alpha), base.darker(130), state in ("skipped", "partial")
        return _tint(MUSCLE, 0.3), _tint(MUSCLE_LINE, 0.6), False

    def _paint_zone(self, p: QPainter, zid: str, shape: ZoneShape, scale: float) -> None:
        fill, line, hatched = self._zone_fill(zid)
        p.setPen(QPen(line, 1.2 / scale if scale else 1.0))
        p.setBrush(fill)
        p.drawPath(shape.path)
        idle = self._heat is None and not self._states and self._available(zid)
        if idle or hatched:
            self._paint_fibres(p, shape, scale, hatched)

    def _paint_rule(self, p: QPainter, zid: str, scale: float) -> None:
        """An excluded zone cross-hatched, dense, red, outlined; an overridden one (treated
        anyway) with a sparse single amber hatch — noted, and quieter than an exclusion
        so the two are never read the wrong way round; a zone under a client ceiling with
        a dashed outline."""
        rules = self._rules[zid]
        shape = self.drawing.shapes[zid]
        width = 1.0 / scale if scale else 1.0
        if any(r.excluded for r in rules):
            self._hatch(p, shape, scale, EXCLUDED, 5.0, cross=True)
            p.setPen(QPen(EXCLUDED, 2.0 * width))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(shape.path)
        elif any(r.overridden for r in rules):
            self._hatch(p, shape, scale, OVERRIDDEN, 11.0, cross=False)
        if any(r.max_ua is not None for r in rules):
            p.setPen(QPen(CEILING, 1.6 * width, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(shape.path)

    def _hatch(
        self,
        p: QPainter,
        shape: ZoneShape,
        scale: float,
        colour: QColor,
        spacing_px: float,
        *,
        cross: bool,
    ) -> None:
        """Hatch lines ``spacing_px`` screen pixels apart (a pattern at every size)."""
        spacing = spacing_px / scale if scale else spacing_px
        r = shape.path.boundingRect()
        c = r.center()
        reach = math.hypot(r.width(), r.height()) / 2 + spacing
        p.save()
        p.setClipPath(shape.path, Qt.ClipOperation.IntersectClip)
        p.setPen(QPen(_tint(colour, 0.85), 1.1 / scale if scale else 1.1))
        lines = []
        for ux, uy in ((0.7071, 0.7071), (0.7071, -0.7071)) if cross else ((0.7071, 0.7071),):
            k = -reach
            while k <= reach:
                ox, oy = c.x() - uy * k, c.y() + ux * k
                lines.append(QPointF(ox - ux * reach, oy - uy * reach))
                lines.append(QPointF(ox + ux * reach, oy + uy * reach))
                k += spacing
        p.drawLines(lines)
        p.restore()

    def _paint_fibres(self, p: QPainter, shape: ZoneShape, scale: float, hatched: bool) -> None:
        """Muscle-fibre striations along origin → insertion (or a hatch for skipped)."""
        r = shape.path.boundingRect()
        if hatched:
            ux, uy = 0.7071, 0.7071
            colour = _tint(QColor(palette.FACE_UNAVAILABLE), 0.55)
        else:
            vx = shape.insertion.x() - shape.origin.x()
            vy = shape.insertion.y() - shape.origin.y()
            n = math.hypot(vx, vy) or 1.0
            ux, uy = vx / n, vy / n
            colour = _tint(MUSCLE_LINE, 0.28)
        spacing = 5.0
        c = r.center()
        reach = math.hypot(r.width(), r.height()) / 2 + spacing
        p.save()
        p.setClipPath(shape.path, Qt.ClipOperation.IntersectClip)
        p.setPen(QPen(colour, 0.8 / scale if scale else 0.8))
        k = -reach
        lines = []
        while k <= reach:
            ox, oy = c.x() - uy * k, c.y() + ux * k
            lines.append(QPointF(ox - ux * reach, oy - uy * reach))
            lines.append(QPointF(ox + ux * reach, oy + uy * reach))
            k += spacing
        p.drawLines(lines)
        p.restore()

    def _paint_outline(self, p: QPainter, zid: str, scale: float) -> None:
        path = self.drawing.shapes[zid].path
        if zid == self._selected:
            pen = QPen(SELECT, 3.0 / scale)
        elif zid == self._focus_zone and self.hasFocus():
            pen = QPen(TEXT, 2.0 / scale, Qt.PenStyle.DashLine)
        elif zid == self._hover:
            pen = QPen(TEXT, 1.8 / scale)
        else:
            return
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)

    def _arrow_paths(self, zid: str, direction: str | None) -> list[QPainterPath]:
        """Probe glide paths in drawing coordinates for ``zid`` and a step direction."""
        shape = self.drawing.shapes[zid]
        lift = shape.lift
        subpaths = lift.toSubpathPolygons()
        paths = []
        for poly in subpaths:
            q = QPainterPath()
            q.addPolygon(poly)
            paths.append(q)
        if direction is None:
            return [lift] if len(paths) <= 1 else paths
        if direction == "none":
            return []
        zone = self.zones[zid]
        centre = shape.inner
        outward_x = {"r": -1.0, "l": 1.0}.get(zone.side, 0.0)
        want: list[tuple[float, float]] = []
        if direction == "upward":
            want = [(0.0, -1.0)]
        elif direction == "downward":
            want = [(0.0, 1.0)]
        elif direction in ("inward", "outward"):
            sign = 1.0 if direction == "outward" else -1.0
            want = [(sign * outward_x, 0.0)] if outward_x else [(-sign, 0.0), (sign, 0.0)]
        elif direction == "toward_lymph_nodes":
            sides = [zone.side] if zone.side in ("l", "r") else ["r", "l"]
            for side in sides:
                nodes = [g for k, g in self.drawing.guides.items() if k.endswith(f"_{side}")]
                if nodes:
                    node = min(
                        nodes, key=lambda g: math.hypot(g.x() - centre.x(), g.y() - centre.y())
                    )
                    vx, vy = node.x() - centre.x(), node.y() - centre.y()
                    n = math.hypot(vx, vy) or 1.0
                    want.append((vx / n, vy / n))
                else:
                    want.append((0.0, 1.0))
        if zone.side != "m" and len(paths) == 1 and len(want) == 1:
            poly = subpaths[0]
            a, b = poly.first(), poly.last()
            vx, vy = b.x() - a.x(), b.y() - a.y()
            n = math.hypot(vx, vy) or 1.0
            cos = (vx * want[0][0] + vy * want[0][1]) / n
            if cos >= 0.45:
                return [lift]
            if cos <= -0.45:
                return [lift.toReversed()]
        out = []
        length = max(
            24.0,
            min(
                60.0,
                max(shape.path.boundingRect().width(), shape.path.boundingRect().height()) * 0.8,
            ),
        )
        for ux, uy in want:
            q = QPainterPath(centre - QPointF(ux, uy) * (length / 2))
            q.lineTo(centre + QPointF(ux, uy) * (length / 2))
            out.append(q)
        return out

    def _paint_arrow(self, p: QPainter, zid: str, direction: str | None) -> QRectF:
        """Draw origin/insertion dots and the probe arrow(s); returns what they cover."""
        shape = self.drawing.shapes[zid]
        scale = self._xf.m11()
        fs = self._font_px()
        width = max(2.5, fs * 0.22)
        halo = QPen(
            QColor(*palette.FACE_HALO),
            width + 3.5,
            Qt.PenStyle.SolidLine,
            Qt.PenCapStyle.RoundCap,
            Qt.PenJoinStyle.RoundJoin,
        )
        pen = QPen(
            ARROW, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
        )
        # origin (hollow) and insertion (filled) dots
        r = max(3.5, fs * 0.3)
        for pt, filled in ((shape.origin, False), (shape.insertion, True)):
            c = self._xf.map(pt)
            p.setPen(QPen(QColor(palette.WHITE), 2.0))
            p.setBrush(QColor(palette.WHITE))
            p.drawEllipse(c, r + 1.5, r + 1.5)
            p.setPen(QPen(TEXT, 2.0))
            p.setBrush(TEXT if filled else QColor(palette.WHITE))
            p.drawEllipse(c, r, r)
        covered = QRectF(self._xf.map(shape.origin), self._xf.map(shape.insertion)).normalized()
        for path in self._arrow_paths(zid, direction):
            wp = self._xf.map(path)
            covered = covered.united(wp.boundingRect())
            if wp.length() < 2:
                continue
            end = wp.pointAtPercent(1.0)
            ang = math.radians(wp.angleAtPercent(0.995))
            ux, uy = math.cos(ang), -math.sin(ang)
            head = max(9.0, fs * 0.85, 8 * scale)
            base = end - QPointF(ux, uy) * head
            nx, ny = -uy, ux
            tri = QPolygonF(
                [end, base + QPointF(nx, ny) * head * 0.55, base - QPointF(nx, ny) * head * 0.55]
            )
            shaft = QPainterPath(wp)
            for pen_, brush in ((halo, QColor(*palette.FACE_HALO)), (pen, ARROW)):
                p.setPen(pen_)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawPath(shaft)
                p.setBrush(brush)
                p.drawPolygon(tri)
        return covered.adjusted(-r - 4, -r - 4, r + 4, r + 4)

    def _paint_label(self, p: QPainter, zid: str, avoid: QRectF) -> None:
        """A name tag next to the zone, placed on the outer side of the face."""
        zone = self.zones[zid]
        font = QFont(self.font())
        font.setPixelSize(round(self._font_px() * 0.95))
        font.setWeight(QFont.Weight.DemiBold)
        fm = QFontMetricsF(font)
        text = zone.muscle_name
        tw, th = fm.horizontalAdvance(text) + 14, fm.height() + 6
        rect = self._xf.mapRect(self.drawing.shapes[zid].path.boundingRect()).united(avoid)
        mid = self._face_rect.center().x()
        if zone.side == "m" or abs(rect.center().x() - mid) < 2:
            x = rect.center().x() - tw / 2
            y = rect.top() - th - 4
        elif rect.center().x() < mid:
            x, y = rect.left() - tw - 6, rect.center().y() - th / 2
        else:
            x, y = rect.right() + 6, rect.center().y() - th / 2
        x = max(4.0, min(self.width() - tw - 4, x))
        y = max(4.0, min(self.height() - th - 4, y))
        box = QRectF(x, y, tw, th)
        p.setPen(QPen(QColor(*palette.FACE_SHADOW), 1))
        p.setBrush(QColor(*palette.FACE_TOOLTIP))
        p.drawRoundedRect(box, 5, 5)
        p.setFont(font)
        p.setPen(QColor(palette.WHITE))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def headers(self) -> tuple[QFont, tuple[str, str]]:
        """The side headers and their font: smaller over a narrow face, and shortened to
        RIGHT / LEFT over a very small one, so the two never run into each other (each
        fits half the face, less a margin)."""
        fs = self._font_px()
        font = QFont(self.font())
        font.setPixelSize(round(fs * 0.9))
        font.setWeight(QFont.Weight.Bold)
        font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 104)
        room = self._face_rect.width() / 2 - fs
        for texts in (("CLIENT'S RIGHT", "CLIENT'S LEFT"), ("RIGHT", "LEFT")):
            widest = max(QFontMetricsF(font).horizontalAdvance(t) for t in texts)
            if widest <= room:
                return font, texts
            size = int(font.pixelSize() * room / widest) if room > 0 else 0
            if size >= 8:
                font.setPixelSize(size)
                if max(QFontMetricsF(font).horizontalAdvance(t) for t in texts) <= room:
                    return font, texts
                font.setPixelSize(size - 1)
                return font, texts
        font.setPixelSize(8)
        return font, ("R", "L")

    def _paint_headers(self, p: QPainter) -> None:
        fs = self._font_px()
        half = self._face_rect.width() / 2
        font, (right, left_text) = self.headers()
        p.setFont(font)
        y = self._face_rect.top() - fs * 1.7
        for text, left, side in (
            (right, self._face_rect.left(), "r"),
            (left_text, self._face_rect.left() + half, "l"),
        ):
            dim = self._side is not None and self._side != side
            p.setPen(_tint(MUTED_TEXT, 0.35) if dim else TEXT)
            p.drawText(QRectF(left, y, half, fs * 1.5), Qt.AlignmentFlag.AlignCenter, text)
        p.setPen(QPen(_tint(MUTED_TEXT, 0.35), 1, Qt.PenStyle.DashLine))
        x = self._face_rect.center().x()
        p.drawLine(QPointF(x, y + fs * 0.1), QPointF(x, y + fs * 1.4))

    def _card_html(self) -> str:
        return self._zone_html()

    def _summary(self) -> tuple[str, list[tuple[str, str]], list[list[tuple[str, QColor | None]]]]:
        """(title, columns (name, align), rows): the session's zones or the most treated."""
        side_tag = {"l": "L", "r": "R", "m": "mid"}
        rows: list[list[tuple[str, QColor | None]]] = []
        if self._heat is not None:
            ranked = sorted(((v, z) for z, v in self._heat.items() if v > 0), reverse=True)
            cols = [("zone", "l"), ("side", "l"), ("value", "r")]
            for v, z in ranked:
                rows.append(
                    [
                        (self.zones[z].muscle_name, None),
                        (side_tag[self.zones[z].side], None),
                        (_fmt_value(v), None),
                    ]
                )
            return f"Most treated · {self._heat_label}", cols, rows
        if self._states:
            done = sum(1 for st in self._states.values() if st == "done")
            cols = [("zone", "l"), ("side", "l"), ("state", "l"), ("time", "r"), ("charge", "r")]
            for z in self.zones:
                state = "active" if z in self._actives else self._states.get(z)
                if state is None:
                    continue
                sec, charge = self._totals.get(z, (None, None))
                shown = (state, STATE_FILL[state].darker(135))
                if state == "pending" and self.excluded(z):
                    shown = ("excluded", EXCLUDED)  # a guided run skips it
                rows.append(
                    [
                        (self.zones[z].muscle_name, None),
                        (side_tag[self.zones[z].side], None),
                        shown,
                        (clock_text(sec) if sec is not None else "–", None),
                        (f"{charge:.1f} µC" if charge is not None else "–", None),
                    ]
                )
            partial = sum(1 for st in self._states.values() if st == "partial")
            skipped = sum(1 for st in self._states.values() if st == "skipped")
            extra = "".join(
                f", {n} {what}" for n, what in ((partial, "partly done"), (skipped, "skipped")) if n
            )
            return (f"This session · {done} of {len(self._states)} zones done{extra}", cols, rows)
        return "", [], []

    def _paint_summary(self, p: QPainter, rect: QRectF, px: int) -> float:
        """Draw the summary table into ``rect``; returns the height used (0: nothing)."""
        title, cols, rows = self._summary()
        if not rows:
            return 0.0
        font = QFont(self.font())
        font.setPixelSize(max(10, round(px * 0.9)))
        fm = QFontMetricsF(font)
        line = fm.height() * 1.15
        if rect.height() < line * 4:
            return 0.0
        bold = QFont(font)
        bold.setWeight(QFont.Weight.Bold)
        # column widths: all but the first fit their widest text; the first takes the rest
        gap = fm.horizontalAdvance("  ")
        widths = [
            max(
                fm.horizontalAdvance(c[0]),
                *(QFontMetricsF(bold).horizontalAdvance(r[i][0]) for r in rows),
            )
            for i, c in enumerate(cols)
        ]
        widths[0] = max(40.0, rect.width() - sum(widths[1:]) - gap * (len(cols) - 1))
        y = rect.top()
        p.setPen(QPen(QColor(palette.FACE_FRAME), 1))
        p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        y += line * 0.4
        p.setFont(bold)
        p.setPen(TEXT)
        p.drawText(
            QRectF(rect.left(), y, rect.width(), line),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(title, Qt.TextElideMode.ElideRight, rect.width()),
        )
        y += line

        def draw_row(cells: list[tuple[str, QColor | None]], colour: QColor, f: QFont) -> None:
            x = rect.left()
            for (text, c), (_, align), w in zip(cells, cols, widths, strict=True):
                p.setFont(bold if c is not None else f)
                p.setPen(c or colour)
                flag = Qt.AlignmentFlag.AlignRight if align == "r" else Qt.AlignmentFlag.AlignLeft
                p.drawText(
                    QRectF(x, y, w, line),
                    flag | Qt.AlignmentFlag.AlignVCenter,
                    fm.elidedText(text, Qt.TextElideMode.ElideRight, w),
                )
                x += w + gap

        draw_row([(c[0], None) for c in cols], MUTED_TEXT, font)
        y += line
        room = int((rect.bottom() - y) // line)
        shown = rows if len(rows) <= room else rows[: max(0, room - 1)]
        for r in shown:
            draw_row(r, TEXT, font)
            y += line
        if len(shown) < len(rows):
            p.setFont(font)
            p.setPen(MUTED_TEXT)
            p.drawText(
                QRectF(rect.left(), y, rect.width(), line),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"… and {len(rows) - len(shown)} more",
            )
            y += line
        return y - rect.top()

    def _zone_html(self) -> str:
        zid = self._hover or self._focus_zone or self._active or self._selected
        if zid is None:
            hint = (
                "Point at a muscle to see what it does and how to move the probes. "
                "Click it, or use the arrow keys and press Enter or Space, to select it."
            )
            if self._heat is not None:
                hint = f"History heat map: {self._heat_label}. Point at a zone for its value."
            return f"<p style='color:{MUTED_TEXT.name()}'>{hint}</p>" + self._rules_html()
        z = self.zones[zid]
        direction = z.direction
        if zid in self._actives and self._active_direction is not None:
            direction = (
                "hold still (no glide)"
                if self._active_direction == "none"
                else self._active_direction.replace("_", " ")
            )
        rows = [
            f"<div style='font-size:125%; font-weight:700'>{z.muscle_name}"
            f" <span style='font-weight:400; color:{MUTED_TEXT.name()}'>· {z.side_name}"
            f"</span></div>",
            f"<div><b>Action:</b> {z.action}</div>",
            f"<div><b>Probes:</b> <span style='color:{ARROW.name()}; font-weight:600'>"
            f"{direction}</span></div>",
            f"<div style='color:{MUTED_TEXT.name()}'>○ origin: {z.origin}<br>"
            f"● insertion: {z.insertion}</div>",
        ]
        extra = []
        state = "active" if zid in self._actives else self._states.get(zid)
        if state:
            extra.append(
                f"<b style='color:{STATE_FILL[state].darker(130).name()}'>{STATE_LABEL[state]}</b>"
            )
        if zid in self._totals:
            seconds, charge = self._totals[zid]
            extra.append(f"treated {duration(seconds)} · {charge:.1f} µC")
        if self._heat is not None:
            extra.append(f"history: {_fmt_value(self._heat.get(zid, 0.0))} {self._heat_label}")
        if z.eye_area:
            extra.append(f"eye area: ≤ {z.max_ua:g} µA")
        for r in self._rules.get(zid, ()):
            if r.excluded:
                extra.append(
                    f"<b style='color:{EXCLUDED.name()}'>╳ excluded for this client:</b> "
                    f"{html.escape(r.reason)}"
                )
            elif r.overridden:
                extra.append(
                    f"<b style='color:{OVERRIDDEN.name()}'>excluded, override "
                    f"acknowledged:</b> {html.escape(r.reason)}"
                )
            elif r.max_ua is not None:
                extra.append(f"<b>client ceiling {r.max_ua:g} µA:</b> {html.escape(r.reason)}")
        if extra:
            rows.append("<div>" + " &nbsp;|&nbsp; ".join(extra) + "</div>")
        if not self._states and self._heat is None and zid != self._selected:
            rows.append(
                f"<div style='color:{MUTED_TEXT.name()}; font-size:90%'>"
                "Click, or press Enter, to select this zone.</div>"
            )
        return "".join(rows)

    def _rules_html(self) -> str:
        """The client's zone screening in a few lines (none: '')."""
        excluded, overridden, ceilings = [], [], []
        for zid, rules in self._rules.items():
            z = self.zones[zid]
            name = f"{z.muscle_name} ({z.side.upper() if z.side != 'm' else 'mid'})"
            if any(r.excluded for r in rules):
                excluded.append(name)
            elif any(r.overridden for r in rules):
                overridden.append(name)
            caps = [r.max_ua for r in rules if r.max_ua is not None]
            if caps:
                ceilings.append(f"{name} {min(caps):g} µA")
        parts = []
        for title, colour, lines in (
            ("Excluded for this client (╳)", EXCLUDED, excluded),
            ("Excluded, override acknowledged", OVERRIDDEN, overridden),
            ("Client ceilings (dashed)", CEILING, ceilings),
        ):
            if lines:
                parts.append(
                    f"<div><b style='color:{colour.name()}'>{title}:</b> "
                    + html.escape(", ".join(lines))
                    + "</div>"
                )
        if parts:
            parts.append(
                f"<div style='color:{MUTED_TEXT.name()}'>Point at a zone for the reason.</div>"
            )
        return "".join(parts)

    def _paint_card(self, p: QPainter) -> None:
        r = self._card_rect
        html = self._card_html()
        key = (html, r.width(), r.height(), self._font_px())
        if self._card_doc is None or self._card_doc[:4] != key:
            font = QFont(self.font())
            px = round(self._font_px())
            doc = QTextDocument()
            doc.setDefaultStyleSheet(f"body {{ color: {TEXT.name()}; }}")
            doc.setHtml(f"<body>{html}</body>")
            doc.setTextWidth(r.width() - 24)
            while True:  # never clip the text: shrink the font until it fits
                font.setPixelSize(px)
                doc.setDefaultFont(font)
                if doc.size().height() <= r.height() - 16 or px <= 10:
                    break
                px -= 1
            self._card_doc = (*key, doc, px)
        doc, px = self._card_doc[4], self._card_doc[5]
        text_h = doc.size().height()
        margin = doc.documentMargin()
        summary_room = QRectF(
            r.left() + 12 + margin,
            r.top() + 8 + text_h + 4,
            r.width() - 24 - 2 * margin,
            r.height() - text_h - 20,
        )
        wide = r.left() > self.width() / 2  # card at the right of the face
        summary = QPicture()
        used = 0.0
        if wide:  # room for the session / history summary below the zone's details
            sp = QPainter(summary)
            sp.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            used = self._paint_summary(sp, summary_room, px)
            sp.end()
        box = QRectF(r)
        if wide:  # as tall as its contents
            box.setHeight(min(r.height(), text_h + 18 + (used + 4 if used else 0)))
        p.setPen(QPen(QColor(palette.FACE_FRAME), 1))
        p.setBrush(QColor(palette.WHITE))
        p.drawRoundedRect(box, 8, 8)
        p.save()
        p.translate(r.left() + 12, r.top() + 8)
        doc.drawContents(p, QRectF(0, 0, r.width() - 24, r.height() - 16))
        p.restore()
        if used:
            p.drawPicture(0, 0, summary)

    def _paint_legend(self, p: QPainter) -> None:
        r = self._legend_rect
        if r.width() <= 10 or r.height() <= 40:
            return
        fs = self._font_px()
        font = QFont(self.font())
        font.setPixelSize(round(fs * 0.85))
        p.setFont(font)
        top = max(self._heat.values(), default=0.0) if self._heat else 0.0
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        title_h = (
            QFontMetricsF(font)
            .boundingRect(QRectF(0, 0, r.width(), 1000), flags, self._heat_label or "history")
            .height()
        )
        title = QRectF(r.left(), r.top(), r.width(), title_h)
        bar = QRectF(
            r.left() + 4, title.bottom() + fs * 1.2, fs * 1.1, max(fs * 4, r.height() * 0.45)
        )
        p.setPen(TEXT)
        p.drawText(title, flags, self._heat_label or "history")
        grad = QLinearGradient(bar.bottomLeft(), bar.topLeft())
        for t, c in HEAT_STOPS:
            grad.setColorAt(t, c)
        p.setPen(QPen(QColor(palette.GREY), 1))
        p.setBrush(QBrush(grad))
        p.drawRect(bar)
        p.setPen(TEXT)
        for frac in (0.0, 0.5, 1.0):
            y = bar.bottom() - bar.height() * frac
            p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 4, y))
            p.drawText(
                QRectF(bar.right() + 7, y - fs, r.width(), fs * 2),
                Qt.AlignmentFlag.AlignVCenter,
                _fmt_value(top * frac),
            )
        sw = QRectF(bar.left(), bar.bottom() + fs * 1.2, fs * 1.1, fs * 1.1)
        p.setPen(QPen(_tint(MUTED_TEXT, 0.5), 1))
        p.setBrush(QColor(*palette.FACE_PAPER))
        p.drawRect(sw)
        p.setPen(TEXT)
        p.drawText(
            QRectF(sw.right() + 6, sw.top() - fs * 0.5, r.width(), fs * 4),
            Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
            "not treated",
        )

    def _paint_state_legend(self, p: QPainter) -> None:
        """A one-line key under the face: what each session colour means."""
        fs = self._font_px()
        font = QFont(self.font())
        font.setPixelSize(round(fs * 0.85))
        p.setFont(font)
        fm = QFontMetricsF(font)
        states: list[tuple[QColor, float, str, bool | str]] = []
        if self._states:
            states += [
                (
                    STATE_FILL[s],
                    0.7 if s != "pending" else 0.3,
                    STATE_LABEL[s],
                    s in ("skipped", "partial"),
                )
                for s in ("done", "partial", "active", "pending", "skipped")
            ]
        rules = [r for rs in self._rules.values() for r in rs]
        keys: list[tuple[QColor, float, str, bool | str]] = []
        if any(r.excluded for r in rules):
            keys.append((EXCLUDED, 0.0, "excluded for this client", "cross"))
        if any(r.overridden for r in rules):
            keys.append((OVERRIDDEN, 0.0, "excluded, override acknowledged", "single"))
        if any(r.max_ua is not None for r in rules):
            keys.append((CEILING, 0.0, "client ceiling", "dash"))
        y = self._face_rect.bottom() + fs * 0.6
        for items in (states, keys):  # one line each
            if items:
                self._paint_key_line(p, fm, fs, items, y)
                y += fs * 1.5

    def _paint_key_line(
        self,
        p: QPainter,
        fm: QFontMetricsF,
        fs: float,
        items: list[tuple[QColor, float, str, bool | str]],
        y: float,
    ) -> None:
        sw = fs * 0.9
        widths = [sw + 6 + fm.horizontalAdvance(t) + fs for _, _, t, _ in items]
        x = max(4.0, self._face_rect.center().x() - sum(widths) / 2)
        for (colour, alpha, text, hatch), w in zip(items, widths, strict=True):
            box = QRectF(x, y, sw, sw)
            p.setPen(QPen(colour.darker(130), 1))
            p.setBrush(_tint(colour, alpha))
            if hatch == "dash":
                p.setPen(QPen(colour, 1.4, Qt.PenStyle.DashLine))
            p.drawRoundedRect(box, 2, 2)
            if hatch in ("cross", "single"):
                p.setPen(QPen(colour, 1.4))
                style = (
                    Qt.BrushStyle.DiagCrossPattern
                    if hatch == "cross"
                    else Qt.BrushStyle.FDiagPattern
                )
                p.setBrush(QBrush(colour, style))
                p.drawRoundedRect(box, 2, 2)
            elif hatch is True:
                p.setBrush(
                    QBrush(_tint(QColor(palette.FACE_UNAVAILABLE), 0.6), Qt.BrushStyle.BDiagPattern)
                )
                p.drawRoundedRect(box, 2, 2)
            p.setPen(TEXT)
            p.drawText(
                QRectF(box.right() + 6, y - fs * 0.3, w, sw + fs * 0.6),
                Qt.AlignmentFlag.AlignVCenter,
                text,
            )
            x += w

    def card_rect(self) -> QRect:
        return self._card_rect.toAlignedRect()
