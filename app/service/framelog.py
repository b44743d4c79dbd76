"""The frame log: raw frames in hex beside their decoding, bounded, as a Qt table model.

Formatting is pure (:func:`hex_bytes`, :func:`describe`, :func:`log_row`); the model is
QtCore only. Records arrive at up to a few hundred per second; they are queued and
inserted in batches by a timer, and the oldest rows go once :attr:`max_rows` is reached.

The log keeps a minute of traffic: the link logs at most ``LOG_MAX_PER_S`` records a
second, so :data:`MAX_ROWS` = 60 s of them. Memory stays bounded: a row keeps only the
first ``HEX_LIMIT`` bytes of its frame (the hex is formatted when shown) and its decoded
text, under 0.5 kB a row (about 8 MB for a full minute of SAMPLES frames).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from app import palette
from app.device.link import LOG_MAX_PER_S, FrameRecord
from app.device.protocol import SampleFlag, Samples, Status, message_type

KEEP_S = 60  # the log holds at least this much traffic at the link's highest log rate
MAX_ROWS = KEEP_S * LOG_MAX_PER_S
HEX_LIMIT = 40  # bytes of a frame shown in hex; the rest is summarised
COLUMNS = ("Time (s)", "Dir", "Type", "Bytes", "Raw frame (hex)", "Decoded")
COL_TYPE = 2
FLUSH_MS = 200


def hex_bytes(raw: bytes, limit: int = HEX_LIMIT) -> str:
    """``"0a 1b …"``; frames longer than ``limit`` bytes end with ``… (+N bytes)``."""
    shown = " ".join(f"{b:02x}" for b in raw[:limit])
    if len(raw) > limit:
        shown += f" … (+{len(raw) - limit} bytes)"
    return shown


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    if hasattr(value, "name") and hasattr(value, "value"):  # enums and flags
        return str(getattr(value, "name", None) or value)
    return repr(value) if isinstance(value, str) else str(value)


def describe(record: FrameRecord) -> tuple[str, str]:
    """(type name, decoded text) of a record; SAMPLES are summarised, not dumped."""
    msg = record.message
    if msg is None:
        return ("ERROR" if record.raw else "NOTE"), (record.error or "")
    if isinstance(msg, Samples):
        return "SAMPLES", _samples_text(*_samples_summary(msg))
    name = message_type(msg).name
    if isinstance(msg, Status):
        return name, (
            f"{msg.state.label}, level {msg.level_ua:.1f}/{msg.setpoint_ua:.1f} µA, "
            f"|Z| {_fmt(msg.impedance_ohm)} Ω, contact {'yes' if msg.contact else 'no'}"
            f", compliance {'yes' if msg.compliance else 'no'}, faults "
            f"{_fmt(msg.faults)}, Q {msg.net_charge_uc:.3f} µC, "
            f"up {msg.uptime_ms} ms"
        )
    parts = []
    if dataclasses.is_dataclass(msg):
        for f in dataclasses.fields(msg):
            if f.name in ("raw", "type"):
                continue
            value = getattr(msg, f.name)
            if dataclasses.is_dataclass(value):
                value = ", ".join(
                    f"{g.name}={_fmt(getattr(value, g.name))}" for g in dataclasses.fields(value)
                )
            parts.append(f"{f.name}={_fmt(value)}")
    return name, " ".join(parts)


_SamplesSummary = tuple[int, int, float, int, tuple[int, ...], int | None, int | None]


def _samples_summary(msg: Samples) -> _SamplesSummary:
    """What a SAMPLES row says, as numbers (its text is made when the row is shown)."""
    n = msg.raw.shape[0]
    lo = hi = None
    if n:
        i = msg.raw[:, 0]
        lo, hi = int(i.min()), int(i.max())
    return (msg.first_index, n, msg.level_ua, int(msg.flags), tuple(msg.sync), lo, hi)


@functools.lru_cache(maxsize=64)
def _flags_text(flags: int) -> str:
    return _fmt(SampleFlag(flags))


def _samples_text(
    first: int,
    n: int,
    level: float,
    flags: int,
    sync: tuple[int, ...],
    lo: int | None,
    hi: int | None,
) -> str:
    text = f"#{first} n={n} level={level:.1f} µA flags={_flags_text(flags)} sync={list(sync)}"
    if lo is not None:
        text += f" I counts {lo}..{hi}"
    return text


@dataclass(frozen=True, slots=True)
class LogRow:
    """One row of the log. A SAMPLES row (most of them, up to 200 a second) keeps its
    figures and makes its text only when it is shown: the log records every frame, but
    only the rows on screen are ever read."""

    time_s: float
    direction: str
    type_name: str
    size: int
    head: bytes  # the frame's first HEX_LIMIT bytes
    detail: str | _SamplesSummary  # the decoded text, or a SAMPLES row's figures
    error: bool

    @property
    def decoded(self) -> str:
        d = self.detail
        return d if isinstance(d, str) else _samples_text(*d)

    @property
    def hex(self) -> str:
        shown = " ".join(f"{b:02x}" for b in self.head)
        if self.size > len(self.head):
            shown += f" … (+{self.size - len(self.head)} bytes)"
        return shown


def log_row(record: FrameRecord, t0: float) -> LogRow:
    detail: str | _SamplesSummary
    if isinstance(record.message, Samples):
        type_name, detail = "SAMPLES", _samples_summary(record.message)
    else:
        type_name, detail = describe(record)
    return LogRow(
        record.at - t0,
        record.direction,
        type_name,
        len(record.raw),
        bytes(record.raw[:HEX_LIMIT]),
        detail,
        record.message is None and bool(record.raw),
    )


class FrameLogModel(QAbstractTableModel):
    """The last :attr:`max_rows` frames, oldest first. ``add`` queues; rows appear on the
    next flush (timer) unless paused — frames arriving while paused are counted, not kept."""

    paused_changed = Signal(bool)

    def __init__(self, max_rows: int = MAX_ROWS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if max_rows < 1:
            raise ValueError(f"max_rows {max_rows}: must be at least 1")
        self.max_rows = int(max_rows)
        self._rows: list[LogRow] = []
        self._pending: deque[FrameRecord] = deque(maxlen=self.max_rows)
        self._t0: float | None = None
        self._paused = False
        self.missed_while_paused = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self.flushes = 0  # flushes that inserted rows

    def set_shown(self, shown: bool) -> None:
        """Rows are inserted (by the timer) only while a view shows them: while hidden,
        records wait (the newest :attr:`max_rows` of them) and go in at the next show."""
        if shown:
            self.flush()
            self._timer.start()
        else:
            self._timer.stop()

    # -- feeding --------------------------------------------------------------------------

    def add(self, record: FrameRecord) -> None:
        if self._paused:
            self.missed_while_paused += 1
            return
        self._pending.append(record)

    def flush(self) -> None:
        if not self._pending:
            return
        records = list(self._pending)
        self._pending.clear()
        self.flushes += 1
        if self._t0 is None:
            self._t0 = records[0].at
        new = [log_row(r, self._t0) for r in records[-self.max_rows :]]
        overflow = len(self._rows) + len(new) - self.max_rows
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._rows[:overflow]
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._pending.clear()
        self._t0 = None
        self.missed_while_paused = 0
        self.endResetModel()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = bool(paused)
        if paused:
            self.flush()
        self.paused_changed.emit(self._paused)

    def row(self, i: int) -> LogRow:
        return self._rows[i]

    # -- Qt model -------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802
        role: int = Qt.ItemDataRole.DisplayRole,
    ):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f"{r.time_s:.3f}",
                "→ dev" if r.direction == "tx" else "← dev",
                r.type_name,
                str(r.size),
                r.hex,
                r.decoded,
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole and col in (4, 5):
            return r.hex if col == 4 else r.decoded
        if role == Qt.ItemDataRole.UserRole:
            return r.type_name
        if role == Qt.ItemDataRole.ForegroundRole and r.error:
            return QColor(palette.SERVICE_FAIL)
        return None
