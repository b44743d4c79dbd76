"""When to send a change of output settings so that it lands between pulses. Pure numpy.

The device applies a SET_OUTPUT at the next sample, continuing from the present phase
(docs/protocol.md §2.3): a change that arrives in the middle of a pulse splits it (part
old amplitude, part new), which the studio would then show and measure as a fragment.
The host cannot make the device wait, but it knows where the device's periods start: the
device marks every period start (the sync flag) at the sample where it happens, and the
sample index counts device time. So the studio holds a change back and sends it so that
it arrives at a chosen phase of a period:

* monophasic output (positive, negative, alternating): the middle of the rest half
  (x = 0.75), the farthest point from both pulse edges, a quarter period of margin each
  way;
* biphasic output (no rest): just after a period start (x = 0.05), so the whole period
  that follows has the new settings and stays charge-balanced.

The device's present sample is estimated from the newest sample and its age, plus the
link's one-way latency (a frame's 5 ms plus transmission). The delay is only worth it
when the period is long compared with the timing error (host timer and link jitter,
:data:`JITTER_S`): for periods shorter than :data:`MIN_PERIOD_S` the change is sent at
once, and no change waits longer than :data:`MAX_DELAY_S`.
"""

from __future__ import annotations

import math

import numpy as np

from app.device.waveform import Polarity

LATENCY_S = 0.008  # host -> device: a frame's time on the line and the firmware's loop
JITTER_S = 0.005  # host timer + link: how far off the arrival can be
MIN_PERIOD_S = 8 * JITTER_S  # shorter periods: a quarter period is within the jitter
MAX_DELAY_S = 2.0  # never hold a change longer than this
MONOPHASIC_TARGET = 0.75  # the middle of the rest half
BIPHASIC_TARGET = 0.05  # just after the period start


def target_phase(polarity: Polarity) -> float:
    return BIPHASIC_TARGET if polarity == Polarity.BIPHASIC else MONOPHASIC_TARGET


def apply_delay_s(
    sync_index: np.ndarray,
    newest_index: int,
    newest_age_s: float,
    sample_rate: float,
    frequency_hz: float,
    polarity: Polarity,
    latency_s: float = LATENCY_S,
) -> float | None:
    """Seconds to wait before sending a SET_OUTPUT so it arrives at the target phase of a
    period of the running output; None when it should be sent at once (no period start
    seen, a period too short to aim at, or a wait beyond MAX_DELAY_S).

    ``sync_index``: absolute sample indices of recent period starts (sorted);
    ``newest_index``: the newest sample received, ``newest_age_s`` seconds ago.
    """
    if sample_rate <= 0 or frequency_hz <= 0 or len(sync_index) == 0:
        return None
    marks = np.asarray(sync_index, dtype=np.int64)
    if marks.size >= 2:
        per = float(np.median(np.diff(marks[-8:])))  # samples per period, as delivered
    else:
        per = sample_rate / frequency_hz
    period_s = per / sample_rate
    if not math.isfinite(period_s) or period_s < MIN_PERIOD_S:
        return None
    last = int(marks[-1])
    # where the device is when the command would arrive if sent now (samples)
    arrive_now = newest_index + (max(newest_age_s, 0.0) + latency_s) * sample_rate
    x = target_phase(polarity)
    m = math.ceil((arrive_now - last) / per - x)  # first target at or after arrive_now
    target = last + (m + x) * per
    delay = (target - arrive_now) / sample_rate
    if delay > MAX_DELAY_S:
        return None
    return max(0.0, delay)
