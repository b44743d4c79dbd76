"""Scope measurements as pure functions of a capture. Definitions: docs/scope.md.

All measurements ignore NaN (dropped) samples. Cycle-based quantities (mean, RMS,
charges, impedance) are taken over the longest run of whole periods between rising
mid-level crossings when at least two exist, else over the whole capture.
A quantity that cannot be measured is NaN (``null`` in JSON).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.scope.core.capture import Capture

# Keys of the offline ``measure --json`` output, in order.
JSON_KEYS = (
    "frequency_hz",
    "period_s",
    "duty",
    "i_peak_pos_ua",
    "i_peak_neg_ua",
    "i_pp_ua",
    "i_mean_ua",
    "i_rms_ua",
    "v_pp_v",
    "charge_per_phase_uc",
    "net_charge_uc",
    "impedance_ohm",
)

#: name -> (label, unit) for tables; the order is the table order.
MEASUREMENTS: dict[str, tuple[str, str]] = {
    "frequency_hz": ("Frequency", "Hz"),
    "period_s": ("Period", "s"),
    "pos_width_s": ("+ Pulse width", "s"),
    "neg_width_s": ("− Pulse width", "s"),
    "duty": ("Duty cycle", "%"),
    "rise_time_s": ("Rise time 10–90 %", "s"),
    "i_peak_pos_ua": ("I peak +", "µA"),
    "i_peak_neg_ua": ("I peak −", "µA"),
    "i_pp_ua": ("I peak-peak", "µA"),
    "i_high_ua": ("I high", "µA"),
    "i_low_ua": ("I low", "µA"),
    "i_amplitude_ua": ("I amplitude (high − low)", "µA"),
    "i_mean_ua": ("I mean (DC)", "µA"),
    "i_rms_ua": ("I RMS", "µA"),
    "charge_per_phase_uc": ("Charge / phase", "µC"),
    "net_charge_uc": ("Net charge / period", "µC"),
    "impedance_ohm": ("Load |V/I|", "Ω"),
    "v_pp_v": ("V peak-peak", "V"),
    "deviation_pct": ("Deviation from commanded", "%"),
}

HYSTERESIS_FRACTION = 0.1  # of top - base, around the mid level
# Timing (frequency, period, duty, rise time) needs a waveform, not noise: its range must
# be at least this many times the noise (estimated from sample-to-sample differences; pure
# Gaussian noise spans about 5.2 sigma between the 0.5th and 99.5th percentiles) and at
# least MIN_PERIODIC_SPAN_UA (below any treatment level; ADC flicker is not a waveform).
PERIODIC_SNR = 8.0
MIN_PERIODIC_SPAN_UA = 1.0
MIN_CURRENT_FOR_IMPEDANCE_UA = 1.0


@dataclass(frozen=True, slots=True)
class Levels:
    top: float  # 99.5th percentile
    base: float  # 0.5th percentile

    @property
    def mid(self) -> float:
        return 0.5 * (self.top + self.base)

    @property
    def span(self) -> float:
        return self.top - self.base


def levels(y: np.ndarray) -> Levels | None:
    v = y[np.isfinite(y)]
    if v.size < 2:
        return None
    base, top = np.percentile(v, [0.5, 99.5])
    return Levels(float(top), float(base))


def crossings(y: np.ndarray, level: float, hysteresis: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-sample positions of rising and falling crossings of ``level`` with hysteresis.

    A rising crossing is counted when the signal goes from below ``level - h`` to above
    ``level + h``; its position is the linear interpolation where it passes ``level``.
    """
    v = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        state = np.where(v > level + hysteresis, 1, np.where(v < level - hysteresis, -1, 0))
    nz = np.flatnonzero(state)
    if nz.size < 2:
        empty = np.zeros(0)
        return empty, empty
    s = state[nz]
    change = np.flatnonzero(s[1:] != s[:-1])
    pos = nz[change + 1]  # first sample on the new side
    rising = s[change + 1] == 1
    idx = np.arange(v.size)
    with np.errstate(invalid="ignore"):
        last_below = np.maximum.accumulate(np.where(v < level, idx, -1))
        last_above = np.maximum.accumulate(np.where(v > level, idx, -1))
    # last sample still on the old side of the level before the new side is reached
    j = np.where(rising, last_below[pos - 1], last_above[pos - 1])
    j = np.clip(j, 0, v.size - 2)
    y0, y1 = v[j], v[j + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((level - y0) / (y1 - y0), 0.0, 1.0)
    frac = np.where(np.isfinite(frac), frac, 0.5)
    out = j + frac
    return out[rising], out[~rising]


def _nan() -> float:
    return float("nan")


def measure(capture: Capture) -> dict[str, float]:
    """All measurements of ``capture`` (keys of :data:`MEASUREMENTS`)."""
    return measure_arrays(
        capture.current_ua, capture.voltage_v, capture.sample_rate, capture.reference_ua
    )


def measure_arrays(
    current: np.ndarray,
    voltage: np.ndarray,
    sample_rate: float,
    reference: np.ndarray | None = None,
) -> dict[str, float]:
    i = np.asarray(current, dtype=np.float64)
    v = np.asarray(voltage, dtype=np.float64)
    dt = 1.0 / sample_rate
    out = {key: _nan() for key in MEASUREMENTS}
    ok = np.isfinite(i)
    if not ok.any():
        return out
    out["i_peak_pos_ua"] = float(np.max(i[ok]))
    out["i_peak_neg_ua"] = float(np.min(i[ok]))
    out["i_pp_ua"] = out["i_peak_pos_ua"] - out["i_peak_neg_ua"]
    okv = np.isfinite(v)
    if okv.any():
        out["v_pp_v"] = float(np.max(v[okv]) - np.min(v[okv]))

    lv = levels(i)
    if lv is not None and lv.span > 0:
        vi = i[ok]
        upper = vi[vi >= lv.base + 0.9 * lv.span]
        lower = vi[vi <= lv.base + 0.1 * lv.span]
        if upper.size and lower.size:
            out["i_high_ua"] = float(np.median(upper))
            out["i_low_ua"] = float(np.median(lower))
            out["i_amplitude_ua"] = out["i_high_ua"] - out["i_low_ua"]
    edge_signal, edge_levels, rise, fall = _edges(i, lv)
    # cycle window: whole periods between first and last rising crossing
    a, b = 0, i.size
    n_periods = 0
    if rise.size >= 2:
        spacing = np.diff(rise)
        # a pause (e.g. an ALTERNATING sign change) is not a period
        whole = spacing <= 1.5 * float(np.median(spacing))
        n_periods = int(np.count_nonzero(whole))
        period = float(np.sum(spacing[whole])) * dt / n_periods
        out["period_s"] = period
        out["frequency_hz"] = 1.0 / period
        pos_w, neg_w = [], []
        for r0, r1 in zip(rise[:-1][whole], rise[1:][whole], strict=True):
            f = fall[(fall > r0) & (fall < r1)]
            if f.size == 1:
                pos_w.append((f[0] - r0) * dt)
                neg_w.append((r1 - f[0]) * dt)
        if pos_w:
            out["pos_width_s"] = float(np.mean(pos_w))
            out["neg_width_s"] = float(np.mean(neg_w))
            out["duty"] = out["pos_width_s"] / period
        # cycle window: the longest run of consecutive whole periods
        first, n_periods = _longest_run(whole)
        a = int(math.ceil(rise[first]))
        b = int(math.ceil(rise[first + n_periods]))
    rt = _rise_time(edge_signal, edge_levels, rise, dt)
    if rt is not None:
        out["rise_time_s"] = rt
    seg = i[a:b]
    seg_ok = np.isfinite(seg)
    if seg_ok.any():
        s = seg[seg_ok]
        out["i_mean_ua"] = float(np.mean(s))
        out["i_rms_ua"] = float(np.sqrt(np.mean(s * s)))
        # charge: sum of samples x dt (µA x s = µC); missing samples count at the mean
        scale = dt * seg.size / s.size
        q_pos = float(np.sum(np.clip(s, 0, None))) * scale
        q_neg = float(np.sum(np.clip(-s, 0, None))) * scale
        q_net = float(np.sum(s)) * scale
        if n_periods:
            out["charge_per_phase_uc"] = max(q_pos, q_neg) / n_periods
            out["net_charge_uc"] = q_net / n_periods
        vs = v[a:b]
        both = seg_ok & np.isfinite(vs)
        if both.any():
            irms = float(np.sqrt(np.mean(seg[both] ** 2)))
            vrms = float(np.sqrt(np.mean(vs[both] ** 2)))
            if irms >= MIN_CURRENT_FOR_IMPEDANCE_UA:
                out["impedance_ohm"] = vrms / (irms * 1e-6)
    if reference is not None:
        out["deviation_pct"] = deviation_pct(i, np.asarray(reference, dtype=np.float64))
    return out


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``mask`` (first one on ties)."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(padded)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])


def _edges(i: np.ndarray, lv: Levels | None):
    """The signal whose mid-level crossings time the waveform, with its crossings.

    Candidates: the current itself, its positive part and its negative part (negated).
    The parts matter for ALTERNATING polarity, where a window holds positive pulses, then
    negative ones. The candidate with the most rising crossings wins (ties: the current
    itself); a part must span at least a quarter of the current's range.
    """
    empty = np.zeros(0)
    best: tuple[np.ndarray, Levels | None, np.ndarray, np.ndarray] = (i, lv, empty, empty)
    if lv is None or lv.span < max(MIN_PERIODIC_SPAN_UA, PERIODIC_SNR * noise_sigma(i)):
        return best  # no output, only noise: nothing to time
    with np.errstate(invalid="ignore"):
        candidates = (i, np.clip(i, 0.0, None), np.clip(-i, 0.0, None))
    for k, y in enumerate(candidates):
        ly = lv if k == 0 else levels(y)
        if ly is None or ly.span < 0.25 * lv.span:
            continue
        rise, fall = crossings(y, ly.mid, HYSTERESIS_FRACTION * ly.span / 2)
        if rise.size > best[2].size:
            best = (y, ly, rise, fall)
    return best


def noise_sigma(y: np.ndarray) -> float:
    """Robust noise estimate: the median absolute sample-to-sample difference (edges are
    too rare to move a median) scaled to one sample's standard deviation."""
    d = np.diff(np.asarray(y, dtype=np.float64))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0
    return float(np.median(np.abs(d))) / (0.6745 * math.sqrt(2.0))


def _rise_time(i: np.ndarray, lv: Levels | None, rise: np.ndarray, dt: float) -> float | None:
    """Mean 10–90 % rise time of the rising edges (base/top = 0.5/99.5th percentiles)."""
    if lv is None or lv.span <= 0 or rise.size == 0:
        return None
    lo = lv.base + 0.1 * lv.span
    hi = lv.base + 0.9 * lv.span
    times = []
    n = i.size
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(i)
        # where the walk back from a crossing stops (at/below 10 %, or no sample) ...
        stops_back = np.flatnonzero(~finite | (i <= lo))
        # ... and where the walk forward stops (at/above 90 %, or no sample)
        stops_fwd = np.flatnonzero(~finite | (i >= hi))
    for r in rise.tolist():
        c = int(r)
        k = int(np.searchsorted(stops_back, c, side="right")) - 1
        j0 = int(stops_back[k]) if k >= 0 else 0
        if c + 1 >= n - 1:
            j1 = c + 1
        else:
            k = int(np.searchsorted(stops_fwd, c + 1, side="left"))
            j1 = min(int(stops_fwd[k]), n - 1) if k < stops_fwd.size else n - 1
        if not (finite[j0] and finite[j1]) or i[j0] > lo or i[j1] < hi:
            continue
        t_lo = _interp_cross(i, j0, lo)
        t_hi = _interp_cross(i, j1 - 1, hi)
        if t_lo is not None and t_hi is not None and t_hi >= t_lo:
            times.append((t_hi - t_lo) * dt)
    return float(np.mean(times)) if times else None


def _interp_cross(y: np.ndarray, j: int, level: float) -> float | None:
    if j + 1 >= y.size:
        return None
    y0, y1 = y[j], y[j + 1]
    if not (np.isfinite(y0) and np.isfinite(y1)) or y1 == y0:
        return float(j)
    return j + float(np.clip((level - y0) / (y1 - y0), 0.0, 1.0))


def deviation_pct(current: np.ndarray, reference: np.ndarray) -> float:
    """Delivered vs commanded amplitude: least-squares gain of current on reference, in %.

    ``100 * (g - 1)`` where ``g = sum(i*r) / sum(r*r)`` over samples where both are known;
    NaN when the reference is unknown or zero.
    """
    ok = np.isfinite(current) & np.isfinite(reference)
    if not ok.any():
        return _nan()
    r = reference[ok]
    rr = float(np.dot(r, r))
    if rr <= 1e-12 * max(r.size, 1):
        return _nan()
    return 100.0 * (float(np.dot(current[ok], r)) / rr - 1.0)


def json_ready(values: dict[str, float]) -> dict[str, float | None]:
    """The :data:`JSON_KEYS` subset with NaN as None (JSON null)."""
    out: dict[str, float | None] = {}
    for key in JSON_KEYS:
        x = values.get(key, _nan())
        out[key] = None if x is None or not math.isfinite(x) else float(x)
    return out


class Statistics:
    """Running min / mean / max per measurement over captures (NaN values skipped)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._n: dict[str, int] = {}
        self._sum: dict[str, float] = {}
        self._min: dict[str, float] = {}
        self._max: dict[str, float] = {}
        self.captures = 0

    def add(self, values: dict[str, float]) -> None:
        self.captures += 1
        for key, x in values.items():
            if x is None or not math.isfinite(x):
                continue
            self._n[key] = self._n.get(key, 0) + 1
            self._sum[key] = self._sum.get(key, 0.0) + x
            self._min[key] = min(self._min.get(key, x), x)
            self._max[key] = max(self._max.get(key, x), x)

    def summary(self, key: str) -> tuple[float, float, float, int]:
        """(min, mean, max, count) of ``key``; NaNs and 0 when never measured."""
        n = self._n.get(key, 0)
        if not n:
            return _nan(), _nan(), _nan(), 0
        return self._min[key], self._sum[key] / n, self._max[key], n
