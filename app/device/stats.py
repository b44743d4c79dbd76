"""Link statistics of the device driver: counters and rates. Pure Python, no Qt.

The worker thread of :class:`app.device.link.DeviceLink` owns one :class:`LinkCounter`
and updates it as bytes and frames arrive; anyone may ask it for a :class:`LinkStats`
snapshot (an immutable copy) at any time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

SEQ_MODULUS = 1 << 16  # the frame sequence number is a u16
INDEX_MODULUS = 1 << 32  # the SAMPLES first_index is a u32
RATE_WINDOW_S = 1.0  # frames/s and bytes/s are averaged over this window
TROUBLE_WINDOW_S = 5.0  # quality looks at the link's troubles over this window


def forward_gap(expected: int, got: int, modulus: int) -> int | None:
    """How many items were skipped going from ``expected`` to ``got`` (modular counter).

    0 when ``got == expected``; a positive count for a jump forward of less than half the
    counter range; None for anything else (a step backwards: the device restarted its
    counter, which is a discontinuity but not a loss).
    """
    diff = (got - expected) % modulus
    return diff if diff < modulus // 2 else None


@dataclass(frozen=True, slots=True)
class LinkStats:
    """An immutable snapshot of the link's health, cumulative since the link started."""

    connected: bool = False
    connect_count: int = 0  # successful handshakes
    bytes_in: int = 0
    frames: int = 0  # frames with a good CRC
    frames_per_s: float = 0.0
    bytes_per_s: float = 0.0
    crc_errors: int = 0
    framing_errors: int = 0
    version_errors: int = 0  # frames of another protocol version
    bad_messages: int = 0  # frames with a good CRC whose message did not parse
    sequence_gaps: int = 0  # times the device's frame sequence number skipped
    frames_lost: int = 0  # frames missing according to the sequence numbers
    samples_received: int = 0
    samples_dropped: int = 0  # samples missing according to the sample indices
    last_frame_age_s: float = math.inf  # seconds since the last good frame
    frames_sent: int = 0
    commands_failed: int = 0  # commands that got no answer or could not be sent
    recent_troubles: int = 0  # bad frames and gaps in the last TROUBLE_WINDOW_S seconds

    @property
    def error_count(self) -> int:
        return self.crc_errors + self.framing_errors + self.version_errors + self.bad_messages

    @property
    def quality(self) -> str:
        """A one-word summary for a status bar: "good", "degraded", "stale" or "offline"."""
        if not self.connected:
            return "offline"
        if self.last_frame_age_s > 0.5:
            return "stale"
        if self.recent_troubles:
            return "degraded"  # only while it lasts: one CRC error is not forever
        return "good"

    def as_dict(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "connect_count": self.connect_count,
            "bytes_in": self.bytes_in,
            "frames": self.frames,
            "frames_per_s": round(self.frames_per_s, 1),
            "bytes_per_s": round(self.bytes_per_s, 1),
            "crc_errors": self.crc_errors,
            "framing_errors": self.framing_errors,
            "version_errors": self.version_errors,
            "bad_messages": self.bad_messages,
            "sequence_gaps": self.sequence_gaps,
            "frames_lost": self.frames_lost,
            "samples_received": self.samples_received,
            "samples_dropped": self.samples_dropped,
            "last_frame_age_s": (
                None if math.isinf(self.last_frame_age_s) else round(self.last_frame_age_s, 3)
            ),
            "frames_sent": self.frames_sent,
            "commands_failed": self.commands_failed,
            "recent_troubles": self.recent_troubles,
        }


class LinkCounter:
    """Mutable counters behind :class:`LinkStats`. Times are ``time.monotonic()`` seconds.

    Not thread-safe by itself: the driver guards it with its own lock.
    """

    def __init__(self) -> None:
        self.connected = False
        self.connect_count = 0
        self.bytes_in = 0
        self.frames = 0
        self.crc_errors = 0
        self.framing_errors = 0
        self.version_errors = 0
        self.bad_messages = 0
        self.sequence_gaps = 0
        self.frames_lost = 0
        self.samples_received = 0
        self.samples_dropped = 0
        self.frames_sent = 0
        self.commands_failed = 0
        self._last_frame_at: float | None = None
        self._next_seq: int | None = None
        self._next_index: int | None = None
        # (time, frames, bytes) checkpoints for the sliding-window rates
        self._history: deque[tuple[float, int, int]] = deque()
        self._troubles: deque[float] = deque()  # times of bad frames and gaps
        self._now = 0.0  # time of the latest on_bytes / on_frame

    # -- connection ----------------------------------------------------------------------

    def on_connected(self, now: float) -> None:
        self.connected = True
        self.connect_count += 1
        self._last_frame_at = now
        self._next_seq = None
        self._next_index = None

    def on_disconnected(self) -> None:
        self.connected = False
        self._next_seq = None
        self._next_index = None

    # -- traffic -------------------------------------------------------------------------

    def on_bytes(self, n: int, now: float) -> None:
        self.bytes_in += n
        self._now = now
        self._checkpoint(now)

    def _trouble(self, n: int = 1) -> None:
        self._troubles.extend([self._now] * min(n, 1000))
        self.recent_troubles(self._now)  # keeps the deque bounded to the window

    def on_decoder_errors(self, crc: int = 0, framing: int = 0, version: int = 0) -> None:
        """Add newly counted bad frames (deltas, not totals)."""
        self.crc_errors += crc
        self.framing_errors += framing
        self.version_errors += version
        if crc or framing or version:
            self._trouble(crc + framing + version)

    def on_bad_message(self) -> None:
        self.bad_messages += 1
        self._trouble()

    def on_frame(self, seq: int, now: float) -> int:
        """Count a good frame from the device; returns how many frames its seq says were lost."""
        self.frames += 1
        self._last_frame_at = now
        self._now = now
        lost = 0
        if self._next_seq is not None:
            gap = forward_gap(self._next_seq, seq, SEQ_MODULUS)
            if gap:
                lost = gap
                self.sequence_gaps += 1
                self.frames_lost += gap
                self._trouble()
        self._next_seq = (seq + 1) % SEQ_MODULUS
        return lost

    def on_samples(self, first_index: int, n: int) -> int | None:
        """Count a SAMPLES frame of ``n`` samples starting at ``first_index``.

        Returns the number of samples missing before it (0 when contiguous), or None when
        the index jumped backwards (the device restarted its counter): either way the
        caller starts a new block when the result is not 0.
        """
        self.samples_received += n
        gap: int | None = 0
        if self._next_index is not None:
            gap = forward_gap(self._next_index, first_index, INDEX_MODULUS)
            if gap:
                self.samples_dropped += gap
                self._trouble()
        self._next_index = (first_index + n) % INDEX_MODULUS
        return gap

    def on_sent(self) -> None:
        self.frames_sent += 1

    def on_command_failed(self) -> None:
        self.commands_failed += 1

    def last_frame_age(self, now: float) -> float:
        return math.inf if self._last_frame_at is None else max(0.0, now - self._last_frame_at)

    # -- rates ---------------------------------------------------------------------------

    def _checkpoint(self, now: float) -> None:
        h = self._history
        h.append((now, self.frames, self.bytes_in))
        while len(h) > 2 and now - h[1][0] >= RATE_WINDOW_S:
            h.popleft()

    def rates(self, now: float) -> tuple[float, float]:
        """(frames/s, bytes/s) over about the last RATE_WINDOW_S seconds."""
        self._checkpoint(now)
        t0, f0, b0 = self._history[0]
        span = now - t0
        if span <= 0.0:
            return 0.0, 0.0
        span = max(span, 0.2)  # a burst in the first moments must not read as a huge rate
        return (self.frames - f0) / span, (self.bytes_in - b0) / span

    def recent_troubles(self, now: float) -> int:
        t = self._troubles
        while t and now - t[0] > TROUBLE_WINDOW_S:
            t.popleft()
        return len(t)

    def snapshot(self, now: float) -> LinkStats:
        fps, bps = self.rates(now)
        return LinkStats(
            connected=self.connected,
            connect_count=self.connect_count,
            bytes_in=self.bytes_in,
            frames=self.frames,
            frames_per_s=fps,
            bytes_per_s=bps,
            crc_errors=self.crc_errors,
            framing_errors=self.framing_errors,
            version_errors=self.version_errors,
            bad_messages=self.bad_messages,
            sequence_gaps=self.sequence_gaps,
            frames_lost=self.frames_lost,
            samples_received=self.samples_received,
            samples_dropped=self.samples_dropped,
            last_frame_age_s=self.last_frame_age(now),
            frames_sent=self.frames_sent,
            commands_failed=self.commands_failed,
            recent_troubles=self.recent_troubles(now),
        )
