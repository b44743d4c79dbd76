"""Face map: the SVG drawing (pure geometry checks) and FaceMapWidget (pytest-qt)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from app.engine.zones import ZONE_IDS, load_zones
from app.format import duration
from app.ui import face_map, style
from app.ui.face_map import (
    FaceMapError,
    FaceMapWidget,
    heat_colour,
    load_drawing,
    path_from_svg,
)

MID = 300.0
ZONES = load_zones()
PAIRED_MUSCLES = sorted({z.muscle for z in ZONES.values() if z.side != "m"})


@pytest.fixture(scope="module")
def drawing():
    return load_drawing(face_map.SVG_FILE, list(ZONES))


@pytest.fixture
def clock():
    class Clock:
        t = 1000.0

        def __call__(self) -> float:
            return self.t

    return Clock()


@pytest.fixture
def fmap(qtbot, clock):
    w = FaceMapWidget(clock=clock)
    qtbot.addWidget(w)
    w.resize(620, 820)
    w.show()
    qtbot.waitExposed(w)
    return w


def _centroid(path) -> tuple[float, float, float]:
    """Area centroid (x, y, area) of a zone path, by sampling its fill."""
    r = path.boundingRect()
    n, sx, sy = 0, 0.0, 0.0
    steps = 40
    for ix in range(steps):
        for iy in range(steps):
            p = QPointF(
                r.left() + (ix + 0.5) * r.width() / steps, r.top() + (iy + 0.5) * r.height() / steps
            )
            if path.contains(p):
                n += 1
                sx += p.x()
                sy += p.y()
    area = n * r.width() * r.height() / steps**2
    return sx / n, sy / n, area


def _colour(w: FaceMapWidget, point: QPointF) -> QColor:
    img = w.grab().toImage()
    dpr = img.devicePixelRatio()
    return img.pixelColor(round(point.x() * dpr), round(point.y() * dpr))


# --------------------------------------------------------------------------- drawing


def test_svg_has_every_zone_with_anchors_and_lift(drawing):
    assert set(drawing.shapes) == set(ZONE_IDS)
    assert len([z for z in drawing.shapes if z.endswith(("_l", "_r"))]) == 32
    for zid, s in drawing.shapes.items():
        r = s.path.boundingRect()
        assert r.width() > 5, zid
        assert r.height() > 5, zid
        grown = r.adjusted(-12, -12, 12, 12)
        assert grown.contains(s.origin), zid
        assert grown.contains(s.insertion), zid
        assert s.lift.length() > 10, zid
        assert s.path.contains(s.inner), zid


def test_left_and_right_mirror_each_other(drawing):
    for m in PAIRED_MUSCLES:
        r, l_ = drawing.shapes[f"{m}_r"], drawing.shapes[f"{m}_l"]
        rx, ry, ra = _centroid(r.path)
        lx, ly, la = _centroid(l_.path)
        assert abs((2 * MID - rx) - lx) < 1.5, m
        assert abs(ry - ly) < 1.5, m
        assert abs(ra - la) / ra < 0.03, m
        br, bl = r.path.boundingRect(), l_.path.boundingRect()
        assert abs((2 * MID - br.right()) - bl.left()) < 1.0, m
        assert abs(br.top() - bl.top()) < 1.0, m
        assert abs(br.height() - bl.height()) < 1.0, m
        # the shapes overlap once mirrored: their symmetric difference is under 2 %
        box = br.adjusted(-4, -4, 4, 4)
        inside = differ = 0
        for ix in range(50):
            for iy in range(50):
                x = box.left() + (ix + 0.5) * box.width() / 50
                yy = box.top() + (iy + 0.5) * box.height() / 50
                a_in = r.path.contains(QPointF(x, yy))
                b_in = l_.path.contains(QPointF(2 * MID - x, yy))
                inside += a_in
                differ += a_in != b_in
        assert differ <= 0.02 * inside, m
        for a, b in ((r.origin, l_.origin), (r.insertion, l_.insertion)):
            assert abs(2 * MID - a.x() - b.x()) < 0.5, m
            assert abs(a.y() - b.y()) < 0.5, m


def test_client_right_is_on_the_viewers_left(drawing):
    for zid, s in drawing.shapes.items():
        x, _, _ = _centroid(s.path)
        side = ZONES[zid].side
        if side == "r":
            assert x < MID, zid
        elif side == "l":
            assert x > MID, zid
        else:
            assert abs(x - MID) < 1.5, zid


def test_anatomical_layout_top_to_bottom(drawing):
    def y(zid):
        return _centroid(drawing.shapes[zid].path)[1]

    order = [
        "frontalis_r",
        "corrugator_supercilii_r",
        "orbicularis_oculi_r",
        "levator_labii_superioris_r",
        "orbicularis_oris",
        "depressor_anguli_oris_r",
        "platysma_r",
    ]
    ys = [y(z) for z in order]
    assert ys == sorted(ys), list(zip(order, ys, strict=True))
    # lateral to medial at cheek level: masseter, zygomaticus major, nasalis
    xs = [
        _centroid(drawing.shapes[z].path)[0]
        for z in ("masseter_r", "zygomaticus_major_r", "nasalis_r")
    ]
    assert xs == sorted(xs)
    # elevators glide upward, corrugator glides outward along the brow
    for m in (
        "frontalis",
        "zygomaticus_major",
        "levator_labii_superioris",
        "masseter",
        "depressor_anguli_oris",
        "platysma",
    ):
        lift = drawing.shapes[f"{m}_r"].lift
        assert lift.pointAtPercent(1).y() < lift.pointAtPercent(0).y(), m
    corr = drawing.shapes["corrugator_supercilii_r"].lift
    assert corr.pointAtPercent(1).x() < corr.pointAtPercent(0).x()  # toward viewer's left


def test_eye_holes_are_not_zones(drawing):
    oo = drawing.shapes["orbicularis_oculi_r"].path
    assert not oo.contains(QPointF(228, 320))  # the eye itself
    assert oo.contains(QPointF(228, 290))  # the ring above it


def test_path_parser_relative_and_shorthand_commands():
    a = path_from_svg("M10 10 L20 10 L20 20 L10 20 Z")
    b = path_from_svg("m10 10 h10 v10 H10 z")
    assert a.boundingRect() == b.boundingRect()
    c = path_from_svg("M0 0 C0 10 10 10 10 0 S20 -10 20 0")
    assert c.boundingRect().right() == pytest.approx(20)
    q = path_from_svg("M0 0 Q5 10 10 0 T20 0")
    assert q.pointAtPercent(1).x() == pytest.approx(20)
    assert path_from_svg("M1e1 0 l-5-5").pointAtPercent(1) == QPointF(5, -5)


@given(
    st.lists(
        st.tuples(st.integers(-5000, 5000), st.integers(-5000, 5000)),
        min_size=2,
        max_size=8,
        unique=True,
    )
)
@settings(max_examples=40, deadline=None)
def test_relative_and_absolute_paths_agree(points):
    points = [(x / 10, y / 10) for x, y in points]  # one decimal, as designers write
    absolute = "M" + " L".join(f"{x} {y}" for x, y in points)
    rel = [f"m{points[0][0]} {points[0][1]}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        rel.append(f"l{x1 - x0} {y1 - y0}")
    pa, pr = path_from_svg(absolute), path_from_svg(" ".join(rel))
    assert pa.elementCount() == pr.elementCount()
    for i in range(pa.elementCount()):
        ea, er = pa.elementAt(i), pr.elementAt(i)
        assert math.isclose(ea.x, er.x, abs_tol=1e-6)
        assert math.isclose(ea.y, er.y, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ("M0 0 A5 5 0 0 1 10 10", "arcs"),
        ("M0 0 C1 2 3", "ends early"),
        ("10 10", "without a command"),
    ],
)
def test_bad_path_data_is_a_clear_error(d, message):
    with pytest.raises(FaceMapError, match=message):
        path_from_svg(d, "zone 'x'")


def _svg_without(tmp_path, element_id: str):
    text = face_map.SVG_FILE.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if f'id="{element_id}"' not in ln]
    assert len(lines) < len(text.splitlines())
    out = tmp_path / "face.svg"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("masseter_l", "no zone element with id 'masseter_l'"),
        ("risorius_r.origin", "risorius_r.origin"),
        ("procerus.lift", "procerus.lift"),
    ],
)
def test_drawing_missing_elements_named(tmp_path, element, message):
    with pytest.raises(FaceMapError, match=message):
        load_drawing(_svg_without(tmp_path, element), list(ZONES))


def test_drawing_file_errors(tmp_path):
    with pytest.raises(FaceMapError, match="not found"):
        load_drawing(tmp_path / "none.svg", list(ZONES))
    bad = tmp_path / "bad.svg"
    bad.write_text("<svg", encoding="utf-8")
    with pytest.raises(FaceMapError, match="not valid"):
        load_drawing(bad, list(ZONES))
    with pytest.raises(FaceMapError, match="not in resources/zones.json"):
        load_drawing(face_map.SVG_FILE, [z for z in ZONES if z != "mentalis_l"])


def test_helpers():
    assert duration(42) == "42 s"
    assert duration(125) == "2 min 05 s"
    low, high = heat_colour(0.0), heat_colour(1.0)
    assert low.lightness() > heat_colour(0.5).lightness() > high.lightness()
    assert heat_colour(2.0) == high
    assert heat_colour(-1) == low


# --------------------------------------------------------------------------- widget


KNOWN_POINTS = {  # drawing coordinates → zone (client's right; mirrored for the left)
    (230, 200): "frontalis_r",
    (228, 290): "orbicularis_oculi_r",
    (160, 470): "masseter_r",
    (240, 720): "platysma_r",
    (199, 438): "zygomaticus_major_r",
    (256, 432): "levator_labii_superioris_r",
    (272, 578): "depressor_labii_inferioris_r",
}


def test_hit_testing_known_points_on_both_sides(fmap):
    for (x, y), zid in KNOWN_POINTS.items():
        assert fmap.zone_at(fmap.map_from_drawing((x, y))) == zid
        mirrored = zid[:-1] + "l"
        assert fmap.zone_at(fmap.map_from_drawing((2 * MID - x, y))) == mirrored
    assert fmap.zone_at(fmap.map_from_drawing((300, 280))) == "procerus"
    assert fmap.zone_at(fmap.map_from_drawing((300, 500))) == "orbicularis_oris"
    assert fmap.zone_at(fmap.map_from_drawing((228, 320))) is None  # the eye
    assert fmap.zone_at(QPointF(3, 3)) is None


def test_every_zone_hit_at_its_point_and_mirror(fmap):
    for zid in ZONE_IDS:
        p = fmap.zone_point(zid)
        assert fmap.zone_at(p) == zid
        q = fmap.map_from_drawing(
            QPointF(
                2 * MID - fmap.drawing.shapes[zid].inner.x(), fmap.drawing.shapes[zid].inner.y()
            )
        )
        assert fmap.zone_at(q) == ZONES[zid].mirror_id


def test_hit_testing_follows_resizing(fmap, qtbot):
    small = fmap.zone_point("mentalis_r")
    fmap.resize(1200, 900)  # landscape: card moves to the right, face grows
    qtbot.waitUntil(lambda: fmap.width() == 1200)
    big = fmap.zone_point("mentalis_r")
    assert big != small
    assert fmap.zone_at(big) == "mentalis_r"
    assert fmap.zone_at((big.x() + 0.0, big.y())) == "mentalis_r"
    assert not fmap.card_rect().contains(big.toPoint())


def test_click_selects_and_emits(fmap, qtbot):
    p = fmap.zone_point("zygomaticus_major_l").toPoint()
    with qtbot.waitSignal(fmap.zone_selected, timeout=1000) as sig:
        qtbot.mouseClick(fmap, Qt.MouseButton.LeftButton, pos=p)
    assert sig.args == ["zygomaticus_major_l"]
    assert fmap.selected_zone() == "zygomaticus_major_l"
    with qtbot.assertNotEmitted(fmap.zone_selected):
        qtbot.mouseClick(
            fmap, Qt.MouseButton.LeftButton, pos=fmap.rect().topRight() + QPointF(-3, 60).toPoint()
        )


def test_hover_shows_name_action_and_arrow(fmap, qtbot):
    p = fmap.zone_point("depressor_anguli_oris_r").toPoint()
    before = fmap.grab().toImage()
    with qtbot.waitSignal(fmap.zone_hovered, timeout=1000) as sig:
        qtbot.mouseMove(fmap, p)
    assert sig.args == ["depressor_anguli_oris_r"]
    html = fmap._card_html()
    assert "Depressor anguli oris" in html
    assert ZONES["depressor_anguli_oris_r"].action in html
    assert ZONES["depressor_anguli_oris_r"].direction in html
    # the arrow runs from the lift path's start to its end: the pixels there change
    lift = fmap.drawing.shapes["depressor_anguli_oris_r"].lift
    mid = fmap.map_from_drawing(lift.pointAtPercent(0.5))
    after = fmap.grab().toImage()
    assert before.pixelColor(mid.toPoint()) != after.pixelColor(mid.toPoint())
    arrow = after.pixelColor(mid.toPoint())
    assert arrow.blue() > arrow.red() + 40  # the probe arrow is blue


def test_side_filter(fmap, qtbot):
    right = fmap.zone_point("frontalis_r")
    left = fmap.zone_point("frontalis_l")
    with qtbot.waitSignal(fmap.side_filter_changed, timeout=1000) as sig:
        fmap.set_side_filter("l")
    assert sig.args == ["l"]
    assert fmap.zone_at(right) is None
    assert fmap.zone_at(left) == "frontalis_l"
    assert fmap.zone_at(fmap.zone_point("procerus")) == "procerus"  # midline stays
    qtbot.mouseClick(fmap.side_buttons["r"], Qt.MouseButton.LeftButton)
    assert fmap.side_filter() == "r"
    assert fmap.zone_at(left) is None
    assert fmap.zone_at(right) == "frontalis_r"
    fmap.set_side_filter(None)
    assert fmap.zone_at(left) == "frontalis_l"
    with pytest.raises(ValueError, match="side filter"):
        fmap.set_side_filter("x")


def test_keyboard_navigation(fmap, qtbot):
    fmap.setFocus()
    qtbot.waitUntil(fmap.hasFocus)
    qtbot.keyClick(fmap, Qt.Key.Key_Right)  # the first press shows the first zone
    assert fmap.focused_zone() == "frontalis_r" == ZONE_IDS[0]
    qtbot.keyClick(fmap, Qt.Key.Key_Right)
    assert fmap.focused_zone() == "frontalis_l"
    qtbot.keyClick(fmap, Qt.Key.Key_Left)
    assert fmap.focused_zone() == "frontalis_r"
    start_y = fmap.drawing.shapes["frontalis_r"].inner.y()
    qtbot.keyClick(fmap, Qt.Key.Key_Down)
    down = fmap.focused_zone()
    assert down is not None
    assert down != "frontalis_r"
    assert fmap.drawing.shapes[down].inner.y() > start_y
    with qtbot.waitSignal(fmap.zone_selected, timeout=1000) as sig:
        qtbot.keyClick(fmap, Qt.Key.Key_Return)
    assert sig.args == [down]
    qtbot.keyClick(fmap, Qt.Key.Key_Up)
    with qtbot.waitSignal(fmap.zone_selected, timeout=1000) as sig:
        qtbot.keyClick(fmap, Qt.Key.Key_Space)  # Space selects too
    assert sig.args == [fmap.focused_zone()]
    # one side only: navigation skips the other side's zones
    fmap.set_side_filter("l")
    assert fmap._nav_order() == [z for z in ZONE_IDS if not z.endswith("_r")]


def test_the_map_is_one_tab_stop(qtbot):
    """Tab goes into the map once and out of it at the next press (on to the side
    buttons, one stop as well): the zones and the sides are chosen with the arrow keys,
    not 30-odd tab stops."""
    from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

    host = QWidget()
    qtbot.addWidget(host)
    before, after = QPushButton("before"), QPushButton("after")
    fmap = FaceMapWidget()
    lay = QVBoxLayout(host)
    for w in (before, fmap, after):
        lay.addWidget(w)
    host.show()
    host.activateWindow()
    before.setFocus()
    qtbot.waitUntil(before.hasFocus)
    qtbot.keyClick(before, Qt.Key.Key_Tab)
    assert fmap.hasFocus()
    assert fmap.focused_zone() == ZONE_IDS[0]  # arriving by Tab: the first zone
    qtbot.keyClick(fmap, Qt.Key.Key_Down)
    qtbot.keyClick(fmap, Qt.Key.Key_Tab)  # one press leaves the zones: the side buttons
    assert fmap.side_buttons[None].hasFocus()
    # the side buttons are one stop too: the arrow keys choose among them
    qtbot.keyClick(fmap.side_buttons[None], Qt.Key.Key_Right)
    assert fmap.side_buttons["r"].hasFocus()
    assert fmap.side_filter() == "r"
    qtbot.keyClick(fmap.side_buttons["r"], Qt.Key.Key_Tab)
    assert after.hasFocus()
    qtbot.keyClick(after, Qt.Key.Key_Backtab)
    assert fmap.side_buttons["r"].hasFocus()
    qtbot.keyClick(fmap.side_buttons["r"], Qt.Key.Key_Backtab)
    assert fmap.hasFocus()
    qtbot.keyClick(fmap, Qt.Key.Key_Backtab)
    assert before.hasFocus()
    # the map draws its own focus frame
    fmap.setFocus()
    qtbot.waitUntil(fmap.hasFocus)
    img = fmap.grab().toImage()
    assert _rgb(img.pixelColor(1, fmap.height() // 2)) == _rgb(QColor(style.FOCUS))


def _rgb(c: QColor) -> tuple[int, int, int]:
    return c.red(), c.green(), c.blue()


def test_states_drive_the_colours(fmap, clock):
    done, skipped, pending, active = (
        "frontalis_r",
        "masseter_l",
        "platysma_r",
        "zygomaticus_major_l",
    )
    outside = "mentalis_r"
    idle = _colour(fmap, fmap.zone_point(done))
    assert idle.red() > idle.green() + 20  # idle: muscle red
    idle_pending = _colour(fmap, fmap.zone_point(pending))
    fmap.set_zone_states({done: "done", skipped: "skipped", pending: "pending", active: "active"})
    fmap.set_active(active, "none")
    d = _colour(fmap, fmap.zone_point(done))
    assert d.green() > d.red() + 20  # done: green
    s = _colour(fmap, fmap.zone_point(skipped))
    assert max(_rgb(s)) - min(_rgb(s)) < 60  # skipped: grey hatch
    pe = _colour(fmap, fmap.zone_point(pending))
    # pending: a cool slate over the skin, far less red than the idle muscle colour
    assert pe.red() - pe.blue() < (idle_pending.red() - idle_pending.blue()) - 25
    a = _colour(fmap, fmap.zone_point(active))
    assert a.red() > a.blue() + 60
    assert a.green() > a.blue() + 30
    o = _colour(fmap, fmap.zone_point(outside))
    assert o.lightness() > 200  # not in the session: faint
    # the pulse: half a period later the active zone is a different shade
    clock.t += face_map.PULSE_PERIOD_S / 2
    a2 = _colour(fmap, fmap.zone_point(active))
    assert _rgb(a2) != _rgb(a)
    assert _colour(fmap, fmap.zone_point(done)) == d  # the others hold still
    fmap.set_zone_states({})
    fmap.set_active(None)
    assert _rgb(_colour(fmap, fmap.zone_point(done))) == _rgb(idle)


def test_pulse_timer_runs_only_while_a_zone_is_active(fmap, clock):
    assert not fmap._pulse.isActive()
    fmap.set_active("masseter_r")
    assert fmap._pulse.isActive()
    assert fmap.pulse_level() == pytest.approx(0.0)
    clock.t += face_map.PULSE_PERIOD_S / 2
    assert fmap.pulse_level() == pytest.approx(1.0)
    fmap.hide()
    assert not fmap._pulse.isActive()
    fmap.show()
    assert fmap._pulse.isActive()
    fmap.set_active(None)
    assert not fmap._pulse.isActive()


def test_a_held_zone_stops_the_pulse_and_holds_its_colour(fmap, clock):
    fmap.set_active("masseter_r")
    fmap.set_pulsing(False)  # paused: the zone stays marked, nothing moves
    assert not fmap._pulse.isActive()
    level = fmap.pulse_level()
    clock.t += face_map.PULSE_PERIOD_S / 3
    assert fmap.pulse_level() == level
    fmap.hide()
    fmap.show()
    assert not fmap._pulse.isActive()
    fmap.set_pulsing(True)
    assert fmap._pulse.isActive()


def test_heatmap_drives_the_colours_and_legend(fmap, qtbot):
    hot, warm, none = "zygomaticus_major_r", "frontalis_l", "mentalis_l"
    fmap.set_heatmap({hot: 40.0, warm: 10.0}, "minutes treated")
    h, w_, n = (_colour(fmap, fmap.zone_point(z)) for z in (hot, warm, none))
    assert h.lightness() < w_.lightness()  # more treatment, deeper colour
    assert h.red() > h.blue() + 80
    assert w_.red() > w_.blue() + 80
    assert n.lightness() > w_.lightness()
    assert not fmap._legend_rect.isEmpty()
    top = fmap._legend_rect.toRect().adjusted(0, 0, 0, 0)
    img = fmap.grab().toImage()
    # the legend's gradient bar is drawn: some pixel in it is the hottest colour
    hottest = heat_colour(1.0)
    found = any(
        abs(img.pixelColor(x, y).red() - hottest.red()) < 20
        and abs(img.pixelColor(x, y).green() - hottest.green()) < 20
        for x in range(top.left(), top.right(), 2)
        for y in range(top.top(), top.bottom(), 2)
    )
    assert found
    qtbot.mouseMove(fmap, fmap.zone_point(hot).toPoint())
    assert fmap.hovered_zone() == hot
    assert "40 minutes treated" in fmap._card_html()
    qtbot.mouseMove(fmap, QPointF(3, 300).toPoint())
    assert fmap.hovered_zone() is None
    fmap.clear_heatmap()
    assert fmap.heatmap() is None
    assert fmap._legend_rect.isEmpty()
    c = _colour(fmap, fmap.zone_point(hot))
    assert c.red() > c.green() + 20  # back to the muscle chart


def test_totals_shown_in_the_card(fmap):
    fmap.set_zone_totals({"masseter_r": (125.0, 10.44)})
    fmap.set_selected("masseter_r")
    html = fmap._card_html()
    assert "2 min 05 s" in html
    assert "10.4 µC" in html


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: w.set_zone_states({"nose": "done"}), "unknown zone 'nose'"),
        (lambda w: w.set_zone_states({"masseter_l": "finished"}), "unknown state 'finished'"),
        (lambda w: w.set_active("masseter_l", "sideways"), "unknown probe direction"),
        (lambda w: w.set_active("chin"), "unknown zone 'chin'"),
        (lambda w: w.set_heatmap({"masseter_l": -1}, "x"), "must be ≥ 0"),
        (lambda w: w.set_heatmap({"masseter_l": "lots"}, "x"), "not a number"),
        (lambda w: w.set_zone_totals({"masseter_l": (1,)}), "needs \\(seconds, charge_uc\\)"),
        (lambda w: w.set_zone_totals({"masseter_l": (float("nan"), 1)}), "invalid totals"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(fmap, call, message):
    with pytest.raises(ValueError, match=message):
        call(fmap)


def test_probe_direction_arrows(fmap):
    def ends(zid, direction):
        (path,) = fmap._arrow_paths(zid, direction)
        return path.pointAtPercent(0), path.pointAtPercent(1)

    a, b = ends("zygomaticus_major_l", None)
    assert b.y() < a.y()
    assert b.x() > a.x()
    a, b = ends("zygomaticus_major_l", "downward")
    assert b.y() > a.y()
    a, b = ends("frontalis_r", "inward")
    assert b.x() > a.x()  # toward the midline
    a, b = ends("frontalis_l", "outward")
    assert b.x() > a.x()
    a, b = ends("frontalis_r", "toward_lymph_nodes")
    node = fmap.drawing.guides["lymph_preauricular_r"]
    assert math.hypot(b.x() - node.x(), b.y() - node.y()) < math.hypot(
        a.x() - node.x(), a.y() - node.y()
    )
    assert fmap._arrow_paths("masseter_r", "none") == []
    assert len(fmap._arrow_paths("orbicularis_oris", None)) == 2  # both corners
    assert len(fmap._arrow_paths("procerus", "outward")) == 2


def test_session_summary_lists_zones_with_time_and_charge(fmap):
    fmap.set_zone_states({"masseter_r": "done", "masseter_l": "pending"})
    fmap.set_zone_totals({"masseter_r": (95.0, 7.25)})
    title, cols, rows = fmap._summary()
    assert title == "This session · 1 of 2 zones done"
    assert [c[0] for c in cols] == ["zone", "side", "state", "time", "charge"]
    assert [[t for t, _ in r] for r in rows] == [
        ["Masseter", "R", "done", "1:35", "7.2 µC"],
        ["Masseter", "L", "pending", "–", "–"],
    ]
    fmap.resize(1200, 780)  # wide: the card shows the summary
    img = fmap.grab().toImage()
    assert not img.isNull()
    fmap.set_heatmap({"masseter_r": 3.0, "masseter_l": 0.0}, "sessions")
    title, _, rows = fmap._summary()
    assert title == "Most treated · sessions"
    assert [[t for t, _ in r] for r in rows] == [["Masseter", "R", "3"]]


def test_a_step_on_both_sides_pulses_both_zones(fmap, clock):
    fmap.set_zone_states({"frontalis_l": "active", "frontalis_r": "active"})
    fmap.set_active(("frontalis_r", "frontalis_l"), "upward")
    assert fmap.active_zones() == ("frontalis_r", "frontalis_l")
    assert fmap.active_zone() == "frontalis_r"
    points = [fmap.zone_point(z) for z in ("frontalis_r", "frontalis_l")]
    before = [_rgb(_colour(fmap, pt)) for pt in points]
    clock.t += face_map.PULSE_PERIOD_S / 2
    after = [_rgb(_colour(fmap, pt)) for pt in points]
    assert before[0] != after[0]
    assert before[1] != after[1]
    with pytest.raises(ValueError, match="unknown zone 'brow'"):
        fmap.set_active(["frontalis_l", "brow"])
    fmap.set_active(None)
    assert fmap.active_zones() == ()


@pytest.mark.parametrize(
    ("width", "height"), [(320, 360), (500, 360), (520, 420), (620, 820), (900, 600)]
)
def test_side_headers_fit_half_the_face_at_any_size(fmap, qtbot, width, height):
    from PySide6.QtGui import QFontMetricsF

    fmap.resize(width, height)
    qtbot.waitUntil(lambda: (fmap.width(), fmap.height()) == (width, height), timeout=2000)
    fmap.grab()  # lays the face out for this size
    font, texts = fmap.headers()
    metrics = QFontMetricsF(font)
    half = fmap._face_rect.width() / 2
    gap = fmap._font_px()  # each header, centred on its half, keeps this clear of the
    for text in texts:  # divider between them
        assert metrics.horizontalAdvance(text) <= half - gap, (width, text)
    assert texts[0].endswith("R") or texts[0].endswith("RIGHT")
    if width >= 620:
        assert texts == ("CLIENT'S RIGHT", "CLIENT'S LEFT")
