"""A capture (one screenful of samples) and its CSV file format. Pure numpy.

CSV format (written by :func:`write_csv`, read by :func:`read_csv`)::

    # format: microcurrent-scope-capture 1
    # sample_rate_hz: 10000
    # <key>: <value>            (device, output parameters, export time, ...)
    time_s,current_uA,voltage_V[,reference_uA]
    -0.0010000,12.5000,0.41000[,12.5]
    ...

The ``reference_uA`` column (the commanded waveform the mask tests against) is written
when the capture has one; it is empty where the reference is unknown (before the first
period start). Files without it (older exports, other tools) are read as before. The
``#`` header lines carry the export's settings (output, trigger, time base, scales,
averaging); :func:`parse_csv` keeps them in ``Capture.metadata``.

Samples that were dropped on the link are simply absent (the time column shows the
gap); they are never interpolated.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

FORMAT_TAG = "microcurrent-scope-capture 1"
HEADER = ("time_s", "current_uA", "voltage_V")
HEADER_REF = (*HEADER, "reference_uA")


class CaptureFileError(ValueError):
    """A capture file that cannot be read; the message names the file, line and problem."""


@dataclass(frozen=True, slots=True, eq=False)
class Capture:
    """Equally spaced samples of one sweep; NaN marks samples that never arrived.

    ``trigger_offset`` is the position of the trigger sample; times are relative to it.
    """

    sample_rate: float
    start_index: int
    trigger_offset: int
    current_ua: np.ndarray
    voltage_v: np.ndarray
    reference_ua: np.ndarray | None = None
    flags: np.ndarray | None = None
    triggered: bool = True
    wall_time: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.current_ua.shape[0])

    def times(self) -> np.ndarray:
        """Seconds relative to the trigger sample."""
        return (np.arange(len(self), dtype=np.float64) - self.trigger_offset) / self.sample_rate

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.current_ua) & np.isfinite(self.voltage_v)

    @property
    def valid_count(self) -> int:
        return int(np.count_nonzero(self.valid))


def capture_from_samples(
    times: np.ndarray,
    current: np.ndarray,
    voltage: np.ndarray,
    sample_rate: float | None = None,
    metadata: dict[str, str] | None = None,
) -> Capture:
    """Build a capture from (possibly gapped) sample lists, e.g. a recorded stream.

    The sample rate is taken from ``sample_rate`` or else the median time step; samples
    are placed on that grid and missing grid points are NaN. Time 0 is the trigger.
    """
    t = np.asarray(times, dtype=np.float64)
    i = np.asarray(current, dtype=np.float64)
    v = np.asarray(voltage, dtype=np.float64)
    if not (t.shape == i.shape == v.shape) or t.ndim != 1:
        raise ValueError("time, current and voltage must be 1-D arrays of the same length")
    if t.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(t)):
        raise ValueError("time values must be finite numbers")
    steps = np.diff(t)
    if steps.size and np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(f"time must increase from sample to sample (sample {bad + 1})")
    if sample_rate is None:
        if steps.size == 0:
            raise ValueError("a single sample without a sample rate: cannot place it in time")
        sample_rate = 1.0 / float(np.median(steps))
    if not (math.isfinite(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample rate must be a positive number, got {sample_rate}")
    k = np.rint((t - t[0]) * sample_rate).astype(np.int64)
    if k.size > 1 and np.any(np.diff(k) <= 0):
        raise ValueError("time steps are finer than the sample rate: samples overlap")
    n = int(k[-1]) + 1
    if n > 50_000_000:
        raise ValueError(f"capture would span {n} samples: too long")
    cur = np.full(n, np.nan, dtype=np.float32)
    volt = np.full(n, np.nan, dtype=np.float32)
    cur[k] = i
    volt[k] = v
    # trigger = the grid point nearest time 0 (may lie outside the capture)
    trigger = int(np.rint(-t[0] * sample_rate))
    start_index = int(np.rint(t[0] * sample_rate))
    return Capture(
        sample_rate=float(sample_rate),
        start_index=start_index,
        trigger_offset=trigger,
        current_ua=cur,
        voltage_v=volt,
        metadata=dict(metadata or {}),
    )


def format_csv(capture: Capture, metadata: dict[str, object] | None = None) -> str:
    """The CSV text of ``capture``: ``# key: value`` lines, header, valid samples."""
    out = io.StringIO()
    meta = {"format": FORMAT_TAG, "sample_rate_hz": f"{capture.sample_rate:.10g}"}
    for key, value in (metadata or {}).items():
        key = str(key).strip().replace(":", "_").replace("\n", " ")
        meta.setdefault(key, str(value).replace("\n", " ").replace("\r", " "))
    for key, value in meta.items():
        out.write(f"# {key}: {value}\n")
    ref = capture.reference_ua
    with_ref = ref is not None and bool(np.isfinite(ref).any())
    out.write(",".join(HEADER_REF if with_ref else HEADER) + "\n")
    ok = capture.valid
    t = capture.times()[ok]
    i = capture.current_ua[ok]
    v = capture.voltage_v[ok]
    lines = [
        f"{a:.9g},{b:.6g},{c:.6g}"
        for a, b, c in zip(t.tolist(), i.tolist(), v.tolist(), strict=True)
    ]
    if with_ref:
        assert ref is not None
        r = np.asarray(ref, dtype=np.float64)[ok]
        lines = [
            f"{line},{x:.6g}" if math.isfinite(x) else f"{line},"
            for line, x in zip(lines, r.tolist(), strict=True)
        ]
    out.write("\n".join(lines))
    if lines:
        out.write("\n")
    return out.getvalue()


def write_csv(
    path: str | Path, capture: Capture, metadata: dict[str, object] | None = None
) -> None:
    """The capture as CSV; the file (a treatment's current and voltage) is created readable
    by its owner only (0600)."""
    from app.paths import open_private

    with open_private(Path(path), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(format_csv(capture, metadata))


def parse_csv(text: str, source: str = "capture") -> Capture:
    """Parse CSV text in the format above; raise CaptureFileError naming what is wrong."""
    meta: dict[str, str] = {}
    header_seen = False
    columns = len(HEADER)
    times: list[float] = []
    cur: list[float] = []
    volt: list[float] = []
    refs: list[float] = []
    for lineno, raw in enumerate(io.StringIO(text), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            if ":" in body:
                key, _, value = body.partition(":")
                meta[key.strip()] = value.strip()
            continue
        if not header_seen:
            cols = tuple(c.strip() for c in next(csv.reader([line])))
            if cols not in (HEADER, HEADER_REF):
                raise CaptureFileError(
                    f"{source}, line {lineno}: expected the header "
                    f"'{','.join(HEADER)}' (optionally ',reference_uA'), found '{line[:80]}'"
                )
            header_seen = True
            columns = len(cols)
            continue
        fields = line.split(",")
        if len(fields) != columns:
            names = ",".join(HEADER_REF if columns == 4 else HEADER)
            raise CaptureFileError(
                f"{source}, line {lineno}: expected {columns} values ({names}), found {len(fields)}"
            )
        if columns == 4:
            r_text = fields.pop().strip()
            try:
                r = float(r_text) if r_text else math.nan
            except ValueError:
                raise CaptureFileError(
                    f"{source}, line {lineno}: reference_uA '{r_text[:20]}' is not a number"
                ) from None
            if math.isinf(r):
                raise CaptureFileError(f"{source}, line {lineno}: values must be finite numbers")
            refs.append(r)
        try:
            a, b, c = (float(f) for f in fields)
        except ValueError:
            raise CaptureFileError(
                f"{source}, line {lineno}: not a number in '{line[:80]}'"
            ) from None
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
            raise CaptureFileError(f"{source}, line {lineno}: values must be finite numbers")
        times.append(a)
        cur.append(b)
        volt.append(c)
    if not header_seen:
        raise CaptureFileError(
            f"{source}: no header line '{','.join(HEADER)}' (empty file or not a scope capture)"
        )
    if not times:
        raise CaptureFileError(f"{source}: the file has a header but no samples")
    rate: float | None = None
    if "sample_rate_hz" in meta:
        try:
            rate = float(meta["sample_rate_hz"])
        except ValueError:
            raise CaptureFileError(
                f"{source}: sample_rate_hz '{meta['sample_rate_hz']}' is not a number"
            ) from None
        if not (math.isfinite(rate) and rate > 0):
            raise CaptureFileError(f"{source}: sample_rate_hz must be positive, got {rate:g}")
    try:
        cap = capture_from_samples(
            np.array(times), np.array(cur), np.array(volt), sample_rate=rate, metadata=meta
        )
    except ValueError as exc:
        raise CaptureFileError(f"{source}: {exc}") from None
    if refs:
        # the reference on the capture's grid (NaN where a sample is absent or unknown)
        k = np.rint((np.array(times) - times[0]) * cap.sample_rate).astype(np.int64)
        ref = np.full(len(cap), np.nan, dtype=np.float32)
        ref[k] = refs
        cap = replace(cap, reference_ua=ref)
    return cap


def read_csv(path: str | Path) -> Capture:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CaptureFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise CaptureFileError(f"{p}: is a folder, not a capture file") from None
    except OSError as exc:
        raise CaptureFileError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptureFileError(f"{p}: not a text file (UTF-8 expected)") from None
    return parse_csv(text, source=str(p))
