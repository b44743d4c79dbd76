"""Treatment parameters: what one step of a treatment asks of the device. Pure, no Qt.

``TreatmentParameters`` wraps the device's :class:`OutputSettings` (the single definition
of waveform, frequency, amplitude, polarity, alternation period and ramp) and adds what
the console needs around it: the step duration and the electrode area. ``validate``
returns every problem as a :class:`ParameterIssue` naming the field, the value and the
allowed range; ``check`` raises :class:`ParameterError` with all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from app.device.waveform import OutputSettings, Polarity, Waveform


@dataclass(frozen=True, slots=True)
class Range:
    """A closed interval with the unit it is shown in."""

    low: float
    high: float
    unit: str

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and self.low <= value <= self.high

    def text(self) -> str:
        return f"{_num(self.low)}–{_num(self.high)} {self.unit}"


def _num(x: float) -> str:
    return f"{x:g}"


# Schema ranges: what the console accepts at all. The device's own limits (from INFO) and
# the layered safety limits (app.engine.limits) narrow these further at run time.
RANGES: dict[str, Range] = {
    "frequency_hz": Range(0.5, 1500.0, "Hz"),
    "amplitude_ua": Range(0.0, 600.0, "µA"),
    "alternate_s": Range(0.1, 60.0, "s"),
    "ramp_s": Range(0.0, 10.0, "s"),
    "duration_s": Range(5.0, 1200.0, "s"),
    "electrode_area_cm2": Range(0.05, 50.0, "cm²"),
}


@dataclass(frozen=True, slots=True)
class ParameterIssue:
    field: str
    value: object
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ParameterError(ValueError):
    """One or more invalid parameters; ``issues`` lists each field that is wrong."""

    def __init__(self, issues: list[ParameterIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


def check_number(field: str, value: object, rng: Range | None = None) -> ParameterIssue | None:
    """None if ``value`` is a finite number inside ``rng`` (RANGES[field] by default)."""
    rng = rng or RANGES[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ParameterIssue(field, value, f"{value!r} is not a number (allowed {rng.text()})")
    if not rng.contains(float(value)):
        return ParameterIssue(
            field,
            value,
            f"{_num(float(value))} {rng.unit} is outside the allowed range {rng.text()}",
        )
    return None


@dataclass(frozen=True, slots=True)
class TreatmentParameters:
    """One step's output settings plus its duration and the electrode area."""

    output: OutputSettings = OutputSettings()
    duration_s: float = 60.0
    electrode_area_cm2: float = 1.0

    @property
    def amplitude_ua(self) -> float:
        return self.output.amplitude_ua

    def with_amplitude(self, amplitude_ua: float) -> TreatmentParameters:
        return replace(self, output=replace(self.output, amplitude_ua=float(amplitude_ua)))

    def density_ua_per_cm2(self, amplitude_ua: float | None = None) -> float:
        amp = self.output.amplitude_ua if amplitude_ua is None else amplitude_ua
        return amp / self.electrode_area_cm2

    def validate(self) -> list[ParameterIssue]:
        issues: list[ParameterIssue] = []
        o = self.output
        if not isinstance(o.waveform, Waveform):
            issues.append(
                ParameterIssue(
                    "waveform",
                    o.waveform,
                    f"{o.waveform!r} is not one of " + ", ".join(w.name.lower() for w in Waveform),
                )
            )
        if not isinstance(o.polarity, Polarity):
            issues.append(
                ParameterIssue(
                    "polarity",
                    o.polarity,
                    f"{o.polarity!r} is not one of " + ", ".join(p.name.lower() for p in Polarity),
                )
            )
        for name, value in (
            ("frequency_hz", o.frequency_hz),
            ("amplitude_ua", o.amplitude_ua),
            ("alternate_s", o.alternate_s),
            ("ramp_s", o.ramp_s),
            ("duration_s", self.duration_s),
            ("electrode_area_cm2", self.electrode_area_cm2),
        ):
            issue = check_number(name, value)
            if issue is not None:
                issues.append(issue)
        return issues

    def check(self) -> TreatmentParameters:
        """Return self if valid, else raise ParameterError naming every bad field."""
        issues = self.validate()
        if issues:
            raise ParameterError(issues)
        return self
