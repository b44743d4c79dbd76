"""Sample ring buffer addressed by the device's absolute sample index. Pure numpy.

Every slot remembers which absolute sample index it holds, so a window read returns
NaN for samples that never arrived (dropped on the link) instead of stale or
interpolated data. Reads always return fresh arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock, joined
from app.device.waveform import (
    OutputSettings,
    Polarity,
    Waveform,
    alternation_count,
    burst_envelope,
    unit_wave,
)

PHASE_ONE = 1 << 32  # the device's phase accumulator (WaveGenerator.PHASE_BITS)


def frame_samples(sample_rate: float) -> int:
    """A SAMPLES frame's length (docs/protocol.md: ⌊sample_rate × 5 ms⌋, 1 .. 239)."""
    return max(1, min(239, int(sample_rate * 0.005)))


DEFAULT_CAPACITY = 1 << 20  # 104 s at 10 kS/s: the widest window (10 s/div x 10 div)


@dataclass(frozen=True, slots=True)
class Window:
    """Samples ``start .. start+len-1`` (absolute indices); NaN where a sample is missing."""

    start: int
    sample_rate: float
    current_ua: np.ndarray
    voltage_v: np.ndarray
    reference_ua: np.ndarray
    flags: np.ndarray
    sync: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return int(self.current_ua.shape[0])


class ReferenceModel:
    """Computes the commanded trace level x unit_wave, phased by the period-start sync marks.

    Before the first sync mark the phase is unknown and the reference is NaN (not drawn).
    The burst envelope is timed from the sample where OUTPUT_ON rose.

    ALTERNATING polarity: the sign belongs to a whole period and changes only at a
    period start (a sync mark), as the device does it
    (:class:`~app.device.signal_model.WaveGenerator`). The first sync mark after OUTPUT_ON
    rose is the output start (the generator restarts there, positive first); from it the
    start time of every later period follows from the sample index and the settings (the
    device's phase accumulator, exact while the frequency is unchanged since the start,
    to within a sample after a change), and the sign flips at the periods where
    :func:`~app.device.waveform.alternation_count` goes up. So the reference is right at
    every sample, also inside a frame in which the polarity flips. Only when the output
    start was not seen (the stream joined a running output) does the sign come from the
    SIGN_NEGATIVE flag, which the device sets per frame (a frame's first sample).
    """

    def __init__(self, before_change: Callable[[], None] | None = None) -> None:
        self.settings: OutputSettings | None = None
        self._before_change = before_change  # the ring settles blocks still to compute
        self._last_sync: int | None = None  # absolute index of the latest period start
        self._output_start: int | None = None
        self._output_on = False
        self._alt_reset()

    def _alt_reset(self) -> None:
        self._seen_any = False  # a sample before this block was seen
        self._next_index = 0  # the index that follows the last block seen
        self._last_rise: int | None = None  # absolute index where OUTPUT_ON last rose
        self._anchor: int | None = None  # absolute index of the output start
        self._anchor_freq: float | None = None  # frequency in force since the start
        self._state_anchor: int | None = None  # the start the sign state below belongs to
        self._alt_sign = 1.0  # sign of the period in progress
        self._alt_seen = 0.0  # alternation count of the period in progress

    def set_settings(self, settings: OutputSettings | None) -> None:
        if self._before_change is not None:
            self._before_change()  # samples that came before the change keep the old settings
        self.settings = settings

    def reset(self) -> None:
        self._last_sync = None
        self._output_start = None
        self._output_on = False
        self._alt_reset()

    def _period_sign(self, k: int, fs: float) -> float:
        """The sign of the period that starts at absolute sample ``k`` (a sync mark), as
        the device's WaveGenerator decides it."""
        s = self.settings
        anchor = self._anchor
        assert s is not None
        assert anchor is not None
        r = k - anchor
        if r <= 0 or s.frequency_hz <= 0:
            self._alt_sign, self._alt_seen = 1.0, 0.0
            self._state_anchor, self._anchor_freq = anchor, s.frequency_hz
            return 1.0
        fresh = self._state_anchor != anchor  # no state yet for this output run
        if fresh:
            self._anchor_freq = s.frequency_hz  # assume these settings since the start
        elif self._anchor_freq is not None and s.frequency_hz != self._anchor_freq:
            self._anchor_freq = None  # changed since the start: approximate from now on
        if self._anchor_freq is not None:
            inc = max(1, int(s.frequency_hz / fs * PHASE_ONE))
            m = -((-r * inc) // PHASE_ONE)  # the period starting inside sample r
            if not fresh and (m * PHASE_ONE) // inc != r:
                # a period start off the grid of this run: the output restarted without a
                # sample off in between (STOP and START within one frame): a new run
                self._anchor = k
                return self._period_sign(k, fs)
            start_s = m * PHASE_ONE / (inc * fs)
            period_s = PHASE_ONE / (inc * fs)
        else:
            period_s = 1.0 / s.frequency_hz
            start_s = (r + 0.5) / fs
            m = int(round(start_s / period_s))
        count = float(alternation_count(s.alternate_s, np.array([start_s]), period_s)[0])
        if fresh:
            # the state the device reached since the start with these settings: one flip
            # per count step, or one per period when flips are due faster than periods
            flips = m if s.alternate_s < period_s else int(max(count, 0.0))
            self._alt_sign = -1.0 if flips % 2 else 1.0
            self._alt_seen = max(count, 0.0)
            self._state_anchor = anchor
        elif count > self._alt_seen:
            self._alt_sign = -self._alt_sign
            self._alt_seen = count
        return self._alt_sign

    def _alternating_signs(
        self,
        block: SampleBlock,
        on: np.ndarray,
        rises: np.ndarray,
        last_sync: np.ndarray,
        alternating: bool,
    ) -> np.ndarray | None:
        """Track the output start (always); for ALTERNATING polarity return +1/-1 per
        sample of ``block``, or None when the output start was not seen (then the
        per-frame flag is all there is)."""
        n = len(block)
        first = block.first_index
        rise_abs = first + rises
        if (
            rises.size
            and rises[0] == 0
            and (
                (not self._seen_any and first != 0)
                or (self._seen_any and first != self._next_index)
            )
        ):
            # joined a running output, or the output came on in samples lost on the
            # link: its start is unknown (the per-frame flag is used until the next start)
            rise_abs = rise_abs[1:]
            self._anchor = None
            self._last_rise = None
        signs = np.full(n, np.nan) if alternating else None
        pos = 0
        sign = self._alt_sign if self._anchor is not None else np.nan
        for j in np.flatnonzero(block.sync).tolist():
            k = first + j
            before = rise_abs[rise_abs <= k]
            if before.size:
                self._last_rise = int(before[-1])
            if (
                self._last_rise is not None
                and on[j]
                and (self._anchor is None or self._anchor < self._last_rise)
            ):
                self._anchor = k  # the first period start of this output run
            if signs is not None:
                signs[pos:j] = sign
                pos = j
                sign = (
                    self._period_sign(k, block.sample_rate) if self._anchor is not None else np.nan
                )
        if rise_abs.size and (self._last_rise is None or rise_abs[-1] > self._last_rise):
            self._last_rise = int(rise_abs[-1])  # a start whose first period is still to come
        if signs is None:
            if block.sync.any():
                self._state_anchor = None  # periods went by unfollowed: re-derive later
            return None
        signs[pos:] = sign
        if np.isnan(signs).all() and self._last_rise is None:
            return None
        flag = np.where((block.flags & SampleFlag.SIGN_NEGATIVE.value) != 0, -1.0, 1.0)
        self._check_with_flags(block, signs, flag, on, last_sync)
        if np.isnan(signs).any():
            signs = np.where(np.isnan(signs), flag, signs)
        return signs

    def _check_with_flags(
        self,
        block: SampleBlock,
        signs: np.ndarray,
        flag: np.ndarray,
        on: np.ndarray,
        last_sync: np.ndarray,
    ) -> None:
        """Hold the derived signs to the device's word. The SIGN_NEGATIVE flag is the sign
        at the first sample of each frame, so at a sample at least a frame's length after
        the latest period start it is the sign of that period. Where the two disagree (a
        restart or a dropped frame the model did not see) the derived sign is wrong from
        that period on: flip it there, and the state with it. In place."""
        first = block.first_index
        idx = first + np.arange(len(block), dtype=np.int64)
        ok = on & (last_sync >= 0) & (idx - last_sync >= frame_samples(block.sample_rate))
        for _ in range(len(block)):
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(ok & (flag != signs) & ~np.isnan(signs))
            if not bad.size:
                return
            start = max(int(last_sync[bad[0]]) - first, 0)
            signs[start:] = -signs[start:]
            self._alt_sign = -self._alt_sign

    def compute(self, block: SampleBlock) -> np.ndarray:
        n = len(block)
        idx = block.first_index + np.arange(n, dtype=np.int64)
        # Track period starts and output start even without settings, for later use.
        sync_pos = np.flatnonzero(block.sync)
        last_sync = np.full(n, -1, dtype=np.int64)
        if self._last_sync is not None:
            last_sync[:] = self._last_sync
        if sync_pos.size:
            marks = np.zeros(n, dtype=np.int64)
            marks[sync_pos] = sync_pos + 1  # 1-based so 0 means "none yet"
            filled = np.maximum.accumulate(marks)
            has = filled > 0
            last_sync[has] = block.first_index + filled[has] - 1
            self._last_sync = int(block.first_index + sync_pos[-1])
        on = (block.flags & SampleFlag.OUTPUT_ON.value) != 0
        rises = np.flatnonzero(on & ~np.concatenate(([self._output_on], on[:-1])))
        out_start = np.full(
            n, -1 if self._output_start is None else self._output_start, dtype=np.int64
        )
        if rises.size:
            marks = np.zeros(n, dtype=np.int64)
            marks[rises] = rises + 1
            filled = np.maximum.accumulate(marks)
            has = filled > 0
            out_start[has] = block.first_index + filled[has] - 1
            self._output_start = int(block.first_index + rises[-1])
        if n:
            self._output_on = bool(on[-1])
        s = self.settings
        signs = self._alternating_signs(
            block, on, rises, last_sync, s is not None and s.polarity == Polarity.ALTERNATING
        )
        self._seen_any = self._seen_any or n > 0
        self._next_index = block.first_index + n
        ref = np.full(n, np.nan, dtype=np.float32)
        if s is None:
            return ref
        known = last_sync >= 0
        if not known.any():
            return ref
        fs = block.sample_rate
        t_since_sync = (idx[known] - last_sync[known]) / fs
        base = OutputSettings(
            waveform=Waveform.SQUARE if s.waveform == Waveform.BURST else s.waveform,
            frequency_hz=s.frequency_hz,
            amplitude_ua=s.amplitude_ua,
            polarity=Polarity.POSITIVE if s.polarity == Polarity.ALTERNATING else s.polarity,
            alternate_s=s.alternate_s,
            ramp_s=s.ramp_s,
        )
        shape = unit_wave(base, t_since_sync)
        if s.polarity == Polarity.ALTERNATING:
            if signs is not None:
                shape = shape * signs[known]
            else:
                neg = (block.flags[known] & SampleFlag.SIGN_NEGATIVE.value) != 0
                shape = np.where(neg, -shape, shape)
        if s.waveform == Waveform.BURST:
            start = np.where(out_start[known] >= 0, out_start[known], idx[0])
            shape = shape * burst_envelope((idx[known] - start) / fs)
        ref[known] = (block.level_ua[known] * shape).astype(np.float32)
        return ref


class SampleRing:
    """Fixed-capacity ring of samples keyed by absolute sample index.

    The reference trace is computed when it is read, not per block: blocks wait in
    :attr:`pending` until a :meth:`window` (or a settings change, or
    :data:`PENDING_LIMIT` samples) asks, then consecutive ones are computed together —
    the same model over the same samples in the same order, at a fraction of the calls.
    """

    PENDING_LIMIT = 1 << 14  # samples: 1.6 s at 10 kS/s

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 16:
            raise ValueError(f"ring capacity must be at least 16 samples, got {capacity}")
        self.capacity = int(capacity)
        self.reference = ReferenceModel(before_change=self.settle)
        self.generation = 0  # counts clear(): readers notice a new stream
        self.reference_computations = 0  # ReferenceModel.compute calls (each a run of blocks)
        self._alloc()

    def _alloc(self) -> None:
        c = self.capacity
        self._idx = np.full(c, -1, dtype=np.int64)
        self._cur = np.zeros(c, dtype=np.float32)
        self._volt = np.zeros(c, dtype=np.float32)
        self._ref = np.zeros(c, dtype=np.float32)
        self._flags = np.zeros(c, dtype=np.uint8)
        self._sync = np.zeros(c, dtype=bool)
        self.sample_rate: float | None = None
        self.newest: int | None = None  # absolute index of the newest sample
        self.oldest_kept: int | None = None
        self.total_received = 0
        self.dropped = 0  # samples missing between blocks since clear()
        self.pending: list[SampleBlock] = []  # stored, their reference not computed yet
        self._pending_samples = 0

    def clear(self) -> None:
        self.pending, self._pending_samples = [], 0  # the model starts over: never computed
        self.reference.reset()
        self.generation += 1
        self._alloc()

    def append(self, block: SampleBlock) -> None:
        """Store a block. A change of sample rate or a counter going backwards clears first."""
        n = len(block)
        if n == 0:
            return
        if block.sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {block.sample_rate}")
        if (self.sample_rate is not None and block.sample_rate != self.sample_rate) or (
            self.newest is not None and block.first_index <= self.newest
        ):
            self.clear()
        if self.newest is not None and block.first_index > self.newest + 1:
            self.dropped += block.first_index - self.newest - 1
        self.sample_rate = float(block.sample_rate)
        if n > self.capacity:  # keep only what fits
            cut = n - self.capacity
            block_slice = slice(cut, n)
            first = block.first_index + cut
            n = self.capacity
        else:
            block_slice = slice(0, n)
            first = block.first_index
        s0 = first % self.capacity
        if s0 + n <= self.capacity:  # no wrap: slices, not fancy indexing
            slots: slice | np.ndarray = slice(s0, s0 + n)
        else:
            slots = np.arange(first, first + n, dtype=np.int64) % self.capacity
        self._idx[slots] = np.arange(first, first + n, dtype=np.int64)
        self._cur[slots] = block.current_ua[block_slice]
        self._volt[slots] = block.voltage_v[block_slice]
        self._flags[slots] = block.flags[block_slice]
        self._sync[slots] = block.sync[block_slice]
        self.pending.append(block)
        self._pending_samples += len(block)
        self.newest = first + n - 1
        self.oldest_kept = max(
            self.newest - self.capacity + 1, first if self.oldest_kept is None else self.oldest_kept
        )
        self.total_received += len(block)
        if self._pending_samples >= self.PENDING_LIMIT:
            self.settle()

    def settle(self) -> None:
        """Compute the reference of the pending blocks (each run of consecutive ones at
        once) into the ring."""
        if not self.pending:
            return
        blocks, self.pending, self._pending_samples = self.pending, [], 0
        run: list[SampleBlock] = []
        for b in blocks:
            if run and b.first_index != run[-1].first_index + len(run[-1]):
                self._settle_run(run)
                run = []
            run.append(b)
        self._settle_run(run)

    def _settle_run(self, run: list[SampleBlock]) -> None:
        block = joined(run)
        ref = self.reference.compute(block)
        self.reference_computations += 1
        n = len(block)
        keep = max(block.first_index, (self.newest or 0) - self.capacity + 1)  # still held
        if keep >= block.first_index + n:
            return
        cut = keep - block.first_index
        s0 = keep % self.capacity
        m = n - cut
        if s0 + m <= self.capacity:
            self._ref[s0 : s0 + m] = ref[cut:]
        else:
            head = self.capacity - s0
            self._ref[s0:] = ref[cut : cut + head]
            self._ref[: m - head] = ref[cut + head :]

    def window(self, start: int, stop: int) -> Window:
        """Samples with absolute index in ``start .. stop-1`` (fresh arrays, NaN if missing)."""
        if stop < start:
            raise ValueError("window stop before start")
        if self.pending and stop > self.pending[0].first_index:
            self.settle()
        idx = np.arange(start, stop, dtype=np.int64)
        n = stop - start
        s0 = start % self.capacity
        if s0 + n <= self.capacity:  # no wrap: slices, not fancy indexing
            sl = slice(s0, s0 + n)
            valid = self._idx[sl] == idx
            parts = (self._cur[sl], self._volt[sl], self._ref[sl], self._flags[sl], self._sync[sl])
        else:
            slots = idx % self.capacity
            valid = self._idx[slots] == idx
            parts = (
                self._cur[slots],
                self._volt[slots],
                self._ref[slots],
                self._flags[slots],
                self._sync[slots],
            )
        cur, volt, ref, flags, sync = parts
        if valid.all():
            return Window(
                start,
                self.sample_rate or 1.0,
                cur.copy(),
                volt.copy(),
                ref.copy(),
                flags.copy(),
                sync.copy(),
                valid,
            )
        nan = np.float32(np.nan)
        return Window(
            start,
            self.sample_rate or 1.0,
            np.where(valid, cur, nan),
            np.where(valid, volt, nan),
            np.where(valid, ref, nan),
            np.where(valid, flags, np.uint8(0)).astype(np.uint8),
            valid & sync,
            valid,
        )

    def sync_marks(self, start: int, stop: int) -> np.ndarray:
        """The period-start marks of samples ``start .. stop-1`` (False where missing);
        needs no reference, so nothing pending is computed."""
        if stop < start:
            raise ValueError("window stop before start")
        n = stop - start
        s0 = start % self.capacity
        if s0 + n <= self.capacity:
            sl = slice(s0, s0 + n)
            return (self._idx[sl] == np.arange(start, stop, dtype=np.int64)) & self._sync[sl]
        idx = np.arange(start, stop, dtype=np.int64)
        slots = idx % self.capacity
        return (self._idx[slots] == idx) & self._sync[slots]

    def latest(self, n: int) -> Window:
        """The newest ``n`` sample slots (missing ones NaN)."""
        if self.newest is None:
            return self.window(0, 0)
        return self.window(self.newest - n + 1, self.newest + 1)
