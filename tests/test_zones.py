"""Zone data (app.engine.zones): pure, no Qt."""

from __future__ import annotations

import copy
import json
import re

import pytest

from app.engine import zone_ids, zones
from app.engine.zones import ZONES_FILE, Zone, ZonesError, load_zones, parse_zones

PAIRED = (
    "frontalis",
    "corrugator_supercilii",
    "orbicularis_oculi",
    "nasalis",
    "levator_labii_superioris_alaeque_nasi",
    "levator_labii_superioris",
    "zygomaticus_minor",
    "zygomaticus_major",
    "levator_anguli_oris",
    "risorius",
    "buccinator",
    "depressor_anguli_oris",
    "depressor_labii_inferioris",
    "mentalis",
    "masseter",
    "platysma",
)


def _raw() -> dict:
    return json.loads(ZONES_FILE.read_text(encoding="utf-8"))


def test_all_32_paired_zones_and_the_midline_ones():
    z = load_zones()
    paired = [zid for zid in z if z[zid].side in ("l", "r")]
    assert len(paired) == 32
    assert set(paired) == {f"{m}_{s}" for m in PAIRED for s in "lr"}
    assert {zid for zid in z if z[zid].side == "m"} == {"procerus", "orbicularis_oris"}
    assert tuple(z) == zones.ZONE_IDS
    assert set(zones.MUSCLES) == set(PAIRED) | {"procerus", "orbicularis_oris"}


def test_ids_are_well_formed_and_fields_filled():
    for zid, zone in load_zones().items():
        assert isinstance(zone, Zone)
        assert zid == zone.id
        if zone.side == "m":
            assert zid == zone.muscle
        else:
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*_[lr]", zid), zid
            assert zid == f"{zone.muscle}_{zone.side}"
            side_word = "left" if zone.side == "l" else "right"
            assert f"client's {side_word}" in zone.name
        for field in ("name", "action", "origin", "insertion", "direction", "muscle_name"):
            assert getattr(zone, field).strip(), (zid, field)
        assert zone.max_ua > 0


def test_agrees_with_engine_zone_ids():
    z = load_zones()
    assert zones.check_against_engine(z) == []
    assert set(z) == set(zone_ids.ZONE_IDS)


def test_eye_area_zones_default_to_200_ua_others_higher():
    z = load_zones()
    eye = {zid for zid, zone in z.items() if zone.eye_area}
    assert eye == {
        "orbicularis_oculi_l",
        "orbicularis_oculi_r",
        "corrugator_supercilii_l",
        "corrugator_supercilii_r",
    }
    for zone in z.values():
        if zone.eye_area:
            assert zone.max_ua == 200
        else:
            assert zone.max_ua > 200


def test_left_and_right_share_the_anatomy_and_mirror_ids():
    z = load_zones()
    for zone in z.values():
        other = z[zone.mirror_id]
        assert other.mirror_id == zone.id
        for field in ("muscle", "action", "origin", "insertion", "direction", "eye_area", "max_ua"):
            assert getattr(zone, field) == getattr(other, field)


def test_recognisable_anatomy_for_key_muscles():
    z = load_zones()
    assert "mouth corner up" in z["zygomaticus_major_l"].action
    assert "zygomatic" in z["zygomaticus_major_l"].origin
    assert "modiolus" in z["zygomaticus_major_l"].insertion
    assert "down" in z["depressor_anguli_oris_r"].action
    assert "mandible" in z["depressor_anguli_oris_r"].origin
    assert "closes the jaw" in z["masseter_l"].action
    assert "eyebrows" in z["frontalis_r"].action


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d["muscles"][0].pop("action"), "'action'"),
        (lambda d: d["muscles"][1].update(eye_area="yes"), "'eye_area'"),
        (lambda d: d["muscles"][2].update(max_ua=-5), "'max_ua'"),
        (lambda d: d["muscles"][3].update(muscle="Bad Name"), "lower_case"),
        (lambda d: d["muscles"].append(copy.deepcopy(d["muscles"][0])), "appears twice"),
        (lambda d: d.update(muscles=[]), "'muscles'"),
        (lambda d: d["defaults"].update(max_ua="lots"), "'max_ua'"),
    ],
)
def test_malformed_files_give_clear_messages(mutate, message):
    data = _raw()
    mutate(data)
    with pytest.raises(ZonesError, match=message):
        parse_zones(data)


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ZonesError, match="not found"):
        load_zones(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ZonesError, match="not valid JSON"):
        load_zones(bad)


def test_explicit_max_ua_overrides_default():
    data = _raw()
    data["muscles"][0]["max_ua"] = 150
    z = parse_zones(data)
    first = data["muscles"][0]["muscle"]
    assert z[f"{first}_l"].max_ua == 150


def test_zone_states_for_a_guided_run():
    steps = [("frontalis_l", "frontalis_r"), ("procerus",), ("masseter_l",), ("frontalis_l",)]
    assert zones.zone_states_for_run(steps, None) == {
        "frontalis_l": "pending",
        "frontalis_r": "pending",
        "procerus": "pending",
        "masseter_l": "pending",
    }
    got = zones.zone_states_for_run(steps, 2, skipped={1})
    assert got == {
        "frontalis_l": "pending",  # a later step covers it again
        "frontalis_r": "done",
        "procerus": "skipped",
        "masseter_l": "active",
    }
    got = zones.zone_states_for_run(steps, 3, skipped={1})
    assert got["frontalis_l"] == "active"
    assert got["masseter_l"] == "done"
    done = zones.zone_states_for_run(steps, 3, skipped={1}, finished=True)
    assert done == {
        "frontalis_l": "done",
        "frontalis_r": "done",
        "procerus": "skipped",
        "masseter_l": "done",
    }
    with pytest.raises(ValueError, match="outside"):
        zones.zone_states_for_run(steps, 4)


def test_steps_are_shown_as_they_happened_done_partial_or_skipped():
    from test_engine_support import make_program, step

    from app.engine.guided import GuidedRun
    from app.engine.zones import step_outcome, zone_states_for_run

    assert step_outcome(54.0, 60.0) == "done"  # 90 % of the planned time
    assert step_outcome(53.9, 60.0) == "partial"
    assert step_outcome(0.0, 60.0) == "skipped"
    program = make_program(
        [
            step("A", ("masseter",), duration=60.0),
            step("B", ("zygomaticus_major",), duration=60.0),
            step("C", ("platysma",), duration=60.0),
            step("D", ("frontalis",), duration=60.0),
        ]
    )
    run = GuidedRun(program)
    run.advance(59.0)
    run.advance(2.0)  # A: done, on to B
    run.advance(6.0)
    run.skip()  # B: 6 s of 60: partial
    run.skip()  # C: never given: skipped
    assert run.outcomes() == {0: "done", 1: "partial", 2: "skipped"}
    view = run.view()
    assert dict(view.outcomes) == run.outcomes()
    states = zone_states_for_run(
        [s.zones for s in program.steps], view.step_index, outcomes=dict(view.outcomes)
    )
    expected = {}
    for st, state in zip(program.steps, ("done", "partial", "skipped", "active"), strict=True):
        expected.update(dict.fromkeys(st.zones, state))
    assert states == expected
