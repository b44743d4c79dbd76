"""Zone-level screening, pure: the questionnaire's zone items, the rules they give, and
the client layer of the limit stack that holds them (no Qt, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.engine import zone_ids
from app.engine.limits import (
    ClinicSettings,
    DeviceLimits,
    LimitLayer,
    build_stack,
    clamp_amplitude,
    client_zone_limit,
    excluded_zone,
)
from app.store.screening import (
    QuestionnaireError,
    ScreeningAnswers,
    Status,
    add_months,
    evaluate,
    load_questionnaire,
    parse_questionnaire,
    zone_override,
    zone_rules,
)
from app.store.vocabulary import ClientFacts, ZoneRule

Q = load_questionnaire()
TODAY = dt.date(2026, 11, 24)
DEVICE = DeviceLimits(1000.0, 0.5, 1000.0)


class C:
    date_of_birth: dt.date | None = dt.date(1980, 5, 1)


def clean() -> dict:
    return {i.id: (False if i.type == "yes_no" else None) for i in Q.items if i.asked}


def screening(answers: dict, acked=()) -> ScreeningAnswers:
    return ScreeningAnswers(answers, TODAY, add_months(TODAY, 6), tuple(acked))


def test_the_questionnaire_names_zones_for_fillers_lesions_implants_and_bruxism():
    zone_items = {i.id: i for i in Q.items if i.zone_level}
    assert set(zone_items) == {
        "filler_toxin_sites",
        "lesion_sites",
        "metal_implant_sites",
        "bruxism",
    }
    assert zone_items["filler_toxin_sites"].effect == "exclude"
    assert zone_items["filler_toxin_sites"].window_of == "fillers_botox"
    assert zone_items["lesion_sites"].effect == "exclude"
    assert zone_items["metal_implant_sites"].max_ua == 100.0
    # a question that implies its zones by itself
    assert zone_items["bruxism"].type == "yes_no"
    assert set(zone_items["bruxism"].zones) == {"masseter_l", "masseter_r"}
    for item in zone_items.values():
        assert all(zone_ids.is_known_zone(z) for z in item.zones)


def test_zone_answers_never_block_the_face_and_an_old_screening_without_them_is_complete():
    old = {k: v for k, v in clean().items() if not Q.item(k).zone_level}
    assert evaluate(screening(old), C(), TODAY, Q).status is Status.CLEARED
    answers = clean() | {"lesion_sites": ["masseter_l"], "bruxism": True}
    assert evaluate(screening(answers), C(), TODAY, Q).status is Status.CLEARED
    bad = clean() | {"lesion_sites": "left cheek"}
    status, reasons = evaluate(screening(bad), C(), TODAY, Q)
    assert status is Status.MISSING
    assert [r.item_id for r in reasons] == ["lesion_sites"]


def test_rules_from_the_answers_exclusions_ceilings_and_implied_zones():
    answers = clean() | {
        "lesion_sites": ["mentalis_l", "mentalis_l"],  # a double tick counts once
        "metal_implant_sites": ["buccinator_r"],
        "bruxism": True,
    }
    rules = zone_rules(screening(answers), TODAY, Q)
    assert rules == (
        ZoneRule("mentalis_l", "lesion_sites", "skin lesion or broken skin", None),
        ZoneRule("buccinator_r", "metal_implant_sites", "metal implant", 100.0),
        ZoneRule("masseter_l", "bruxism", "bruxism (masseter)", 150.0),
        ZoneRule("masseter_r", "bruxism", "bruxism (masseter)", 150.0),
    )
    assert rules[0].excluded
    assert not rules[1].excluded
    assert zone_rules(screening(clean() | {"bruxism": False}), TODAY, Q) == ()
    assert zone_rules(None, TODAY, Q) == ()


def test_injection_sites_count_only_within_the_injection_window():
    def rules(days_ago: int | None):
        day = None if days_ago is None else (TODAY - dt.timedelta(days=days_ago)).isoformat()
        answers = clean() | {"fillers_botox": day, "filler_toxin_sites": ["zygomaticus_major_l"]}
        return zone_rules(screening(answers), TODAY, Q)

    assert [r.zone for r in rules(10)] == ["zygomaticus_major_l"]
    assert [r.zone for r in rules(29)] == ["zygomaticus_major_l"]
    assert rules(30) == ()  # the window is 30 days, as for the whole-face question
    assert rules(None) == ()  # no injection date: the sites are not current


def test_an_acknowledged_override_lifts_an_exclusion_but_never_a_ceiling():
    answers = clean() | {"lesion_sites": ["mentalis_l"], "metal_implant_sites": ["mentalis_r"]}
    acked = ("lesion_sites", "metal_implant_sites")
    rules = zone_rules(screening(answers, acked), TODAY, Q)
    assert [(r.zone, r.overridden, r.excluded, r.max_ua) for r in rules] == [
        ("mentalis_l", True, False, None),
        ("mentalis_r", False, False, 100.0),
    ]


def test_an_override_of_one_zone_lifts_that_zone_and_keeps_the_others_excluded():
    """Two injection sites, one treated anyway: the other stays excluded, for the rules
    and so for the authority (an excluded zone refuses output, an overridden one has its
    other limits only)."""
    answers = clean() | {
        "lesion_sites": ["mentalis_l", "frontalis_r"],
        "metal_implant_sites": ["mentalis_r"],
    }
    acked = (zone_override("lesion_sites", "mentalis_l"), "metal_implant_sites@mentalis_r")
    rules = zone_rules(screening(answers, acked), TODAY, Q)
    assert [(r.zone, r.overridden, r.excluded) for r in rules] == [
        ("mentalis_l", True, False),
        ("frontalis_r", False, True),
        ("mentalis_r", False, False),  # a ceiling is never lifted, per zone either
    ]
    assert excluded_zone(rules, ("mentalis_l",)) is None
    assert excluded_zone(rules, ("frontalis_r",)).zone == "frontalis_r"
    # the whole item's override still lifts every zone it names
    both = zone_rules(screening(answers, ("lesion_sites",)), TODAY, Q)
    assert [r.overridden for r in both if r.item_id == "lesion_sites"] == [True, True]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 1}, "need schema_version 2"),
        ({"effect": "hide"}, "'effect' must be one of"),
        ({"effect": "limit"}, "'max_ua' must be a number > 0"),
        ({"kind": "relative"}, "belongs to an item of kind 'zone'"),
        ({"window_of": "nothing"}, "'window_of' must name a date item"),
    ],
)
def test_a_malformed_zone_item_is_named(change, message):
    item = {
        "id": "sites",
        "kind": "zone",
        "type": "zones",
        "effect": "exclude",
        "question": "Where?",
        "reason": "site",
    }
    data = {
        "schema_version": 2,
        "items": [item | {k: v for k, v in change.items() if k != "schema_version"}],
    }
    data["schema_version"] = change.get("schema_version", 2)
    with pytest.raises(QuestionnaireError, match=message):
        parse_questionnaire(data)
    bruxism = {**item, "type": "yes_no", "effect": "limit", "max_ua": 100, "zones": []}
    with pytest.raises(QuestionnaireError, match="'zones' must list"):
        parse_questionnaire({"schema_version": 2, "items": [bruxism]})


def test_the_client_layer_names_the_zone_that_binds():
    rules = (
        ZoneRule("masseter_l", "metal_implant_sites", "metal implant", 100.0),
        ZoneRule("masseter_r", "bruxism", "bruxism (masseter)", 150.0),
    )
    stack = build_stack(DEVICE, ClinicSettings(), ("masseter_l", "masseter_r"), 300.0, 250.0, rules)
    d = clamp_amplitude(250.0, stack)
    assert (d.allowed_ua, d.layer) == (100.0, LimitLayer.CLIENT)
    assert d.layer_label == "client zone: metal implant (Masseter (client's left))"
    assert "limited to 100 µA by the client zone: metal implant" in d.explanation
    # the client's own limit lower than the zone's: the own limit is named
    stack = build_stack(DEVICE, ClinicSettings(), ("masseter_l",), 80.0, 250.0, rules)
    assert clamp_amplitude(250.0, stack).layer_label == "client's own limit"
    # a zone with no rule: the client layer is the own limit alone
    assert client_zone_limit(rules, ("mentalis_l",)) == (None, "")


def test_an_excluded_zone_has_no_output_and_an_overridden_one_its_other_limits():
    excluded = ZoneRule("mentalis_l", "lesion_sites", "skin lesion or broken skin", None)
    value, label = client_zone_limit((excluded,), ("mentalis_l",))
    assert value == 0.0
    assert "excluded" in label
    overridden = ZoneRule("mentalis_l", "lesion_sites", "skin lesion", None, overridden=True)
    assert client_zone_limit((overridden,), ("mentalis_l",)) == (None, "")


def test_client_facts_list_excluded_zones_and_comfort():
    facts = ClientFacts(
        1,
        "A",
        True,
        "cleared",
        (),
        None,
        False,
        0.0,
        zone_rules=(
            ZoneRule("mentalis_l", "lesion_sites", "lesion", None),
            ZoneRule("mentalis_r", "lesion_sites", "lesion", None, overridden=True),
        ),
        comfort_ua=(("masseter_l", 180.0),),
    )
    assert list(facts.excluded_zones()) == ["mentalis_l"]
    assert facts.comfort("masseter_l") == 180.0
    assert facts.comfort("masseter_r") is None
