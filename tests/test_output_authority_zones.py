"""The output authority enforces a client's zone screening like any other limit: a zone
ceiling binds and is named, an excluded zone refuses SET_OUTPUT and START unless an
override was acknowledged, an exclusion saved mid-step stops the output; the desk skips
excluded steps with the reason, records overrides, and starts each step at the client's
comfortable level (never above the live limits) and remembers the level of each step.
Against the shared fake device, like tests/test_output_authority.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_support import make_program, step

from app.device.fake import FakeDevice
from app.device.protocol import DeviceState
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine.authority import Driver, OutputAuthority, OutputRefused
from app.engine.controller import SessionController
from app.engine.limits import ClinicSettings
from app.engine.session import SessionState
from app.store.vocabulary import ClientFacts, ZoneRule

S = SessionState
SQUARE = OutputSettings(Waveform.SQUARE, 10.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)
LESION = ZoneRule("mentalis_l", "lesion_sites", "skin lesion or broken skin", None)
IMPLANT = ZoneRule("masseter_l", "metal_implant_sites", "metal implant", 100.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def facts(*, rules=(), comfort=(), at=100.0, limit=None):
    return ClientFacts(
        7,
        "Ann Example",
        True,
        "cleared",
        (),
        limit,
        False,
        at,
        zone_rules=tuple(rules),
        comfort_ua=tuple(comfort),
    )


@pytest.fixture
def rig(qtbot):
    clock = Clock()
    device = FakeDevice(connected=True)
    authority = OutputAuthority(ClinicSettings(), clock=clock)
    authority.set_link(device)
    authority.watch_client(7)
    return authority, device, clock


def test_a_zone_ceiling_binds_and_is_named(rig):
    authority, device, _ = rig
    authority.set_client_facts(facts(rules=[IMPLANT]))
    grant = authority.set_output(Driver.DESK, SQUARE, zones=("masseter_l",), step_ua=300.0)
    assert grant.settings.amplitude_ua == 100.0
    assert grant.decision.layer_label == "client zone: metal implant (Masseter (client's left))"
    assert device.amplitudes() == [100.0]
    # the other side has no implant: its own limits
    grant = authority.set_output(Driver.DESK, SQUARE, zones=("masseter_r",), step_ua=300.0)
    assert grant.settings.amplitude_ua == 300.0


def test_an_excluded_zone_refuses_settings_and_start_with_the_reason(rig):
    authority, device, _ = rig
    authority.set_client_facts(facts(rules=[LESION]))
    with pytest.raises(OutputRefused) as refused:
        authority.set_output(Driver.DESK, SQUARE, zones=("mentalis_l",))
    assert str(refused.value) == (
        "output settings not sent: Mentalis (client's left) is excluded for this client "
        "(skin lesion or broken skin); an override acknowledged in the screening is needed "
        "to treat it"
    )
    assert device.names() == []
    # settings sent for a zone still allowed, then the exclusion arrives: no START
    authority.set_client_facts(facts())
    authority.set_output(Driver.DESK, SQUARE, zones=("mentalis_l",))
    authority.set_client_facts(facts(rules=[LESION]))
    with pytest.raises(OutputRefused, match="output not started: Mentalis .* is excluded"):
        authority.start(Driver.DESK)
    assert "start_output" not in device.names()
    # the studio and the bench never treat a face zone of a client
    assert authority.transfer(Driver.BENCH)
    authority.set_output(Driver.BENCH, SQUARE, zones=("mentalis_l",))


def test_an_acknowledged_override_lets_the_zone_be_treated(rig):
    authority, device, _ = rig
    authority.set_client_facts(facts(rules=[replace(LESION, overridden=True)]))
    grant = authority.set_output(Driver.DESK, SQUARE, zones=("mentalis_l",), step_ua=250.0)
    assert grant.settings.amplitude_ua == 250.0
    authority.start(Driver.DESK)
    assert device.names()[-1] == "start_output"


def test_an_exclusion_saved_while_the_zone_is_treated_stops_the_output(rig):
    authority, device, _ = rig
    authority.set_client_facts(facts())
    authority.set_output(Driver.DESK, SQUARE, zones=("mentalis_l",), step_ua=300.0)
    authority.start(Driver.DESK)
    device.emit_status(DeviceState.RUNNING, level_ua=300.0)
    revoked = []
    authority.output_revoked.connect(lambda d, why: revoked.append(why))
    authority.set_client_facts(facts(rules=[LESION]))
    assert device.names()[-1] == "stop_output"
    assert revoked
    assert "Mentalis (client's left) is excluded" in revoked[0]
    # a ceiling saved mid-step lowers the output to it, and names it
    authority.set_client_facts(facts())
    authority.set_output(Driver.DESK, SQUARE, zones=("masseter_l",), step_ua=300.0)
    authority.start(Driver.DESK)
    device.emit_status(DeviceState.RUNNING, level_ua=300.0)
    lowered = []
    authority.output_lowered.connect(lambda d, why: lowered.append(why))
    authority.set_client_facts(facts(rules=[IMPLANT]))
    assert device.amplitudes()[-1] == 100.0
    assert lowered == [
        "300 µA requested, limited to 100 µA by the client zone: metal implant "
        "(Masseter (client's left)) 100 µA"
    ]


# --------------------------------------------------------------------------- the desk


def _desk(qtbot, client_facts, steps):
    device = FakeDevice(connected=True)
    authority = OutputAuthority()
    authority.set_link(device)
    ctl = SessionController(authority, tick_ms=20)
    authority.watch_client(7)
    authority.set_client_facts(replace(client_facts, checked_at=authority.now()))
    ctl.load_program(make_program(steps))
    device.emit_status(DeviceState.IDLE, contact=True)
    assert ctl.state is S.READY
    records = []
    ctl.record_emitted.connect(records.append)
    return ctl, authority, device, records


CHIN = step("Chin", ("mentalis",), side="left", amplitude=200.0, duration=30.0, ramp_s=0.0)
JAW = step("Jaw", ("masseter",), side="left", amplitude=200.0, duration=30.0, ramp_s=0.0)


def test_the_guided_run_skips_an_excluded_zone_and_says_why(qtbot):
    ctl, authority, device, records = _desk(qtbot, facts(rules=[LESION]), [CHIN, JAW])
    notices = []
    ctl.notice.connect(notices.append)
    ctl.start()
    skipped = [r for r in records if r.kind == "zone_skipped"]
    assert [r.message for r in skipped] == [
        "step 1/2: Chin skipped: Mentalis (client's left) is excluded for this client "
        "(skin lesion or broken skin)"
    ]
    assert skipped[0].data["zone"] == "mentalis_l"
    assert ctl.machine.run.index == 1  # the jaw step runs
    assert device.names()[-1] == "start_output"
    assert any("step 1 skipped" in n for n in notices)
    device.emit_status(DeviceState.RUNNING, contact=True, level_ua=200.0)
    ctl.stop()
    device.emit_status(DeviceState.IDLE, contact=True)
    assert ctl.machine.run.outcomes()[0] == "skipped"
    ctl.shutdown()


def test_a_program_on_excluded_zones_only_does_not_start(qtbot):
    ctl, authority, device, records = _desk(qtbot, facts(rules=[LESION]), [CHIN])
    ctl.start()
    assert "start_output" not in device.names()
    assert ctl.state is S.READY
    ctl.shutdown()


def test_an_overridden_zone_runs_and_the_override_is_in_the_session(qtbot):
    rule = replace(LESION, overridden=True)
    ctl, authority, device, records = _desk(qtbot, facts(rules=[rule]), [CHIN])
    ctl.start()
    assert device.names()[-1] == "start_output"
    overrides = [r for r in records if r.kind == "zone_override"]
    assert [r.message for r in overrides] == [
        "Mentalis (client's left) treated despite skin lesion or broken skin: "
        "override acknowledged in the screening"
    ]
    ctl.shutdown()


def test_a_step_starts_at_the_comfortable_level_never_above_the_limits(qtbot):
    comfort = (("masseter_l", 180.0), ("mentalis_l", 260.0))
    ctl, authority, device, records = _desk(
        qtbot, facts(comfort=comfort, rules=[IMPLANT]), [JAW, CHIN]
    )
    # the jaw's comfortable 180 µA, under the implant's 100 µA ceiling: 100
    ctl.start()
    assert device.amplitudes()[-1] == 100.0
    ctl.shutdown()
    ctl, authority, device, records = _desk(qtbot, facts(comfort=comfort), [JAW, CHIN])
    ctl.start()
    assert device.amplitudes()[-1] == 180.0
    assert ctl.machine.comfort_for(("masseter_l",)) == 180.0
    # the chin's 260 µA is above the step's own 200 µA: 200
    assert ctl.machine._starting_target(ctl.machine.run.program.steps[1]) == 200.0
    ctl.shutdown()


def test_the_level_settled_on_when_a_step_ends_is_recorded_as_comfortable(qtbot):
    ctl, authority, device, records = _desk(qtbot, facts(), [JAW, CHIN])
    ctl.start()
    device.emit_status(DeviceState.RUNNING, contact=True, level_ua=200.0)
    qtbot.waitUntil(lambda: ctl.state is S.RUNNING)
    ctl.intensity_down()
    ctl.intensity_down()  # the client found 180 µA comfortable
    qtbot.waitUntil(lambda: ctl.machine.output_s > 0.05)
    ctl.skip_step()
    comfort = [r for r in records if r.kind == "comfort"]
    assert [(r.data["zones"], r.data["intensity_ua"]) for r in comfort] == [(["masseter_l"], 180.0)]
    assert comfort[0].message == "comfortable level 180 µA on Masseter (client's left)"
    ctl.shutdown()


# --------------------------------------------------------------------------- property

ZONES = ("masseter_l", "masseter_r", "mentalis_l")
RULES = st.lists(
    st.builds(
        ZoneRule,
        st.sampled_from(ZONES),
        st.just("item"),
        st.just("reason"),
        st.one_of(st.none(), st.floats(0, 800)),
        st.booleans(),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=RULES,
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True),
    amp=st.floats(0, 2000),
)
def test_no_output_on_an_excluded_zone_nor_above_a_zone_ceiling(qapp, rules, zones, amp):
    device = FakeDevice(connected=True)
    authority = OutputAuthority(ClinicSettings())
    authority.set_link(device)
    authority.watch_client(7)
    authority.set_client_facts(facts(rules=rules, at=authority.now()))
    excluded = any(r.excluded and r.zone in zones for r in rules)
    caps = [r.max_ua for r in rules if r.zone in zones and r.max_ua is not None]
    try:
        authority.set_output(Driver.DESK, replace(SQUARE, amplitude_ua=amp), zones=tuple(zones))
        authority.start(Driver.DESK)
    except OutputRefused:
        assert excluded
        assert "start_output" not in device.names()
        return
    assert not excluded
    sent = device.amplitudes()[-1]
    assert sent <= min(caps, default=float("inf")) + 1e-9
    assert sent <= min(amp, 400.0) + 1e-9  # the face map's 400 µA zone limit
