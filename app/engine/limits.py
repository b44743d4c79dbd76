"""Layered output limits: the lowest wins, and we always say which layer binds. Pure, no Qt.

Layers, from the outermost to the innermost (see docs/safety.md):

1. ``device``  the device's hard limits, from its INFO message;
2. ``clinic``  the clinic settings (default maximum 600 µA; technician workspace only);
3. ``zone``    the zone limit (default 200 µA in the eye area);
4. ``client``  the client's own limit from the record, and the client's per-zone
   ceilings and exclusions from the screening (:func:`client_zone_limit`): the lower
   binds, named after the zone and its reason ("client zone: filler or toxin site
   (Masseter, client's left)"); an excluded zone's ceiling is 0;
5. ``step``    the program step's amplitude.

:func:`clamp_amplitude` turns a requested amplitude into the allowed one and names the
binding layer. On a tie the outer layer is named (a clinic rule explains more than a
step value that happens to equal it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from app.engine import zone_ids
from app.engine import zones as face_map
from app.store.vocabulary import ZoneRule


class LimitLayer(Enum):
    DEVICE = "device"
    CLINIC = "clinic"
    ZONE = "zone"
    CLIENT = "client"
    STEP = "step"

    @property
    def label(self) -> str:
        return {
            "device": "device hard limit",
            "clinic": "clinic maximum",
            "zone": "zone limit",
            "client": "client's own limit",
            "step": "program step",
        }[self.value]


@dataclass(frozen=True, slots=True)
class DeviceLimits:
    """The device's hard limits, as reported by INFO."""

    max_current_ua: float
    min_frequency_hz: float
    max_frequency_hz: float
    compliance_v: float = float("nan")

    @classmethod
    def from_info(cls, info: Any) -> DeviceLimits:
        """From the device's INFO (or anything with its four figures)."""
        return cls(
            float(info.max_current_ua),
            float(info.min_frequency_hz),
            float(info.max_frequency_hz),
            float(info.compliance_v),
        )

    def frequency_problem(self, frequency_hz: float) -> str | None:
        """A message if the device cannot produce ``frequency_hz``, else None."""
        if frequency_hz < self.min_frequency_hz:
            return (
                f"frequency {frequency_hz:g} Hz is below the device's minimum "
                f"{self.min_frequency_hz:g} Hz"
            )
        if frequency_hz > self.max_frequency_hz:
            return (
                f"frequency {frequency_hz:g} Hz is above the device's maximum "
                f"{self.max_frequency_hz:g} Hz"
            )
        return None


@dataclass(frozen=True, slots=True)
class ClinicSettings:
    """Clinic-wide safety settings (edited in the technician workspace only)."""

    max_current_ua: float = 600.0
    eye_area_max_ua: float = 200.0
    zone_max_ua: dict[str, float] = field(default_factory=dict)  # per-zone overrides
    density_warn_ua_per_cm2: float = 500.0
    electrode_area_cm2: float = 1.0
    intensity_step_ua: float = 10.0  # one click of + / -
    slew_ua_per_s: float = 20.0  # how fast an increase is ramped in
    max_session_s: float = 1200.0  # automatic off after 20 min of output
    confirm_timeout_s: float = 3.0  # device must confirm start/stop within ramp + this
    lock_after_s: float = 300.0  # the console locks after this long without input

    def validate(self) -> list[str]:
        problems = []
        for name in (
            "max_current_ua",
            "eye_area_max_ua",
            "density_warn_ua_per_cm2",
            "electrode_area_cm2",
            "intensity_step_ua",
            "slew_ua_per_s",
            "max_session_s",
            "confirm_timeout_s",
            "lock_after_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                problems.append(f"{name}: {value!r} must be a positive number")
        for zone, value in self.zone_max_ua.items():
            if not zone_ids.is_known_zone(zone):
                problems.append(f"zone_max_ua: unknown zone {zone!r}")
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(f"zone_max_ua[{zone}]: {value!r} must be a number ≥ 0")
        return problems

    def zone_limit(self, zones: Iterable[str]) -> tuple[float | None, str]:
        """The zone layer's ceiling for a step on ``zones`` and why.

        Per zone: the clinic's own limit for that zone if it set one; else, in the eye
        area, the clinic's eye-area limit; else the face map's default for the zone
        (resources/zones.json). No zones (manual work, zone chosen by hand) counts as the
        eye area: the most careful default. Several zones: the lowest of them binds.
        """
        zones = list(zones)
        if not zones:
            return self.eye_area_max_ua, "no zone chosen: the eye-area limit applies"
        best: tuple[float | None, str] = (None, "")
        for z in zones:
            record = face_map.ZONES.get(z)
            if z in self.zone_max_ua:
                cand = (self.zone_max_ua[z], f"clinic limit for zone {z}")
            elif zone_ids.is_eye_area(z):
                cand = (self.eye_area_max_ua, f"{z} is in the eye area")
            elif record is not None:
                cand = (record.max_ua, f"face-map limit for {z}")
            else:
                continue
            if best[0] is None or cand[0] < best[0]:
                best = cand
        return best


@dataclass(frozen=True, slots=True)
class LimitStack:
    """The ceilings of every layer for the present step (None: that layer sets none)."""

    device: float | None = None
    clinic: float | None = None
    zone: float | None = None
    client: float | None = None
    step: float | None = None
    zone_reason: str = ""
    step_label: str = ""  # what the step layer is, when not a program step ("procedure maximum")
    client_label: str = ""  # the client layer, when a zone of the client's binds it

    def ceilings(self) -> list[tuple[LimitLayer, float]]:
        out = []
        for layer in LimitLayer:
            value = getattr(self, layer.value)
            if value is not None:
                out.append((layer, float(value)))
        return out

    def binding(self) -> tuple[LimitLayer, float]:
        """The lowest ceiling and its layer (outer layer on a tie).

        With no device connected nothing may be delivered: (DEVICE, 0.0).
        A ceiling that is not a finite number counts as 0: a damaged value never lifts
        a limit.
        """
        ceilings = [(layer, v if math.isfinite(v) else 0.0) for layer, v in self.ceilings()]
        if self.device is None:
            return LimitLayer.DEVICE, 0.0
        layer, value = ceilings[0]
        for cand_layer, cand in ceilings[1:]:
            if cand < value:
                layer, value = cand_layer, cand
        return layer, max(0.0, value)


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """What :func:`clamp_amplitude` decided: the allowed value, the binding layer, why."""

    requested_ua: float
    allowed_ua: float
    layer: LimitLayer  # the layer whose ceiling is lowest (binds if requested exceeds it)
    ceiling_ua: float
    explanation: str
    label: str = ""  # the binding layer in words, when not the layer's own label

    @property
    def layer_label(self) -> str:
        """The binding layer in words, as the screen names it."""
        return self.label or self.layer.label

    @property
    def clamped(self) -> bool:
        return self.allowed_ua < self.requested_ua

    def __iter__(self):
        """Unpacks as (allowed value, binding layer name, explanation)."""
        return iter((self.allowed_ua, self.layer.value, self.explanation))


def clamp_amplitude(requested_ua: float, stack: LimitStack) -> LimitDecision:
    """Clamp ``requested_ua`` to the lowest layer and explain which layer binds."""
    layer, ceiling = stack.binding()
    req = float(requested_ua) if math.isfinite(requested_ua) else 0.0
    req = max(0.0, req)
    label = stack.step_label if layer is LimitLayer.STEP and stack.step_label else ""
    if layer is LimitLayer.CLIENT and stack.client_label:
        label = stack.client_label
    detail = f"{label or layer.label} {ceiling:g} µA"
    if layer is LimitLayer.ZONE and stack.zone_reason:
        detail += f" ({stack.zone_reason})"
    if stack.device is None:
        return LimitDecision(
            req, 0.0, LimitLayer.DEVICE, 0.0, "no device connected: no output allowed"
        )
    if req > ceiling:
        return LimitDecision(
            req,
            ceiling,
            layer,
            ceiling,
            f"{req:g} µA requested, limited to {ceiling:g} µA by the {detail}",
            label,
        )
    return LimitDecision(req, req, layer, ceiling, f"{req:g} µA is within the {detail}", label)


def zone_name(zone: str) -> str:
    """A zone as the practitioner reads it ("Masseter (client's left)")."""
    record = face_map.ZONES.get(zone)
    return zone if record is None else record.name


def excluded_zone(rules: Iterable[ZoneRule], zones: Iterable[str]) -> ZoneRule | None:
    """The first of ``zones`` the client's screening excludes (no acknowledged
    override), or None."""
    wanted = set(zones)
    for rule in rules:
        if rule.excluded and rule.zone in wanted:
            return rule
    return None


def exclusion_text(rule: ZoneRule) -> str:
    """Why output on ``rule.zone`` is refused, for the operator."""
    return (
        f"{zone_name(rule.zone)} is excluded for this client ({rule.reason}); "
        "an override acknowledged in the screening is needed to treat it"
    )


def client_zone_limit(rules: Iterable[ZoneRule], zones: Iterable[str]) -> tuple[float | None, str]:
    """The client's own ceiling for a step on ``zones`` from the screening's zone rules,
    and its name: an excluded zone gives 0; a limited zone its ``max_ua``; an
    overridden exclusion nothing. Several: the lowest binds. (None, ''): no rule."""
    wanted = set(zones)
    best: tuple[float | None, str] = (None, "")
    for rule in rules:
        if rule.zone not in wanted:
            continue
        if rule.excluded:
            cand = (0.0, f"client zone: {rule.reason} ({zone_name(rule.zone)}, excluded)")
        elif rule.max_ua is not None:
            cand = (float(rule.max_ua), f"client zone: {rule.reason} ({zone_name(rule.zone)})")
        else:
            continue
        if best[0] is None or cand[0] < best[0]:
            best = cand
    return best


def build_stack(
    device: DeviceLimits | None,
    clinic: ClinicSettings,
    zones: Iterable[str],
    client_limit_ua: float | None,
    step_ua: float | None,
    zone_rules: Iterable[ZoneRule] = (),
) -> LimitStack:
    zones = tuple(zones)
    zone_value, zone_reason = clinic.zone_limit(zones)
    client, client_label = client_limit_ua, ""
    rule_value, rule_label = client_zone_limit(zone_rules, zones)
    if rule_value is not None and (client is None or rule_value < client):
        client, client_label = rule_value, rule_label
    return LimitStack(
        device=None if device is None else device.max_current_ua,
        clinic=clinic.max_current_ua,
        zone=zone_value,
        client=client,
        step=step_ua,
        zone_reason=zone_reason,
        client_label=client_label,
    )


@dataclass(frozen=True, slots=True)
class DensityReading:
    ua_per_cm2: float
    threshold: float

    @property
    def warning(self) -> bool:
        return self.ua_per_cm2 > self.threshold

    def text(self) -> str:
        base = f"{self.ua_per_cm2:.0f} µA/cm²"
        if self.warning:
            return f"{base}: above the warning threshold of {self.threshold:g} µA/cm²"
        return base


def current_density(amplitude_ua: float, area_cm2: float, threshold: float) -> DensityReading:
    if not (area_cm2 > 0):
        raise ValueError(f"electrode area {area_cm2!r} cm² must be positive")
    return DensityReading(amplitude_ua / area_cm2, threshold)


class ChargeMeter:
    """Net delivered charge of a whole session from the device's per-START counter.

    The device reports ``net_charge_uc`` since its last START; a session may START
    several times (after a fault, an emergency stop, a link loss), so the meter keeps
    what earlier starts delivered and adds the running counter.
    """

    def __init__(self) -> None:
        self._banked_uc = 0.0
        self._current_uc = 0.0

    @property
    def net_uc(self) -> float:
        return self._banked_uc + self._current_uc

    def started(self) -> None:
        """A new START: bank what the previous one delivered."""
        self._banked_uc += self._current_uc
        self._current_uc = 0.0

    def update(self, device_counter_uc: float) -> None:
        if math.isfinite(device_counter_uc):
            self._current_uc = float(device_counter_uc)

    def reset(self) -> None:
        self._banked_uc = 0.0
        self._current_uc = 0.0
