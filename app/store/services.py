"""Read services for the UI and the engine: plain frozen records, detached from the ORM.

Reads may run on any thread (each call opens its own short session). Writes go through
:class:`app.store.writer.StoreWriter`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from app.store import recording, screening
from app.store.models import (
    Amendment,
    Client,
    Consent,
    CourseSession,
    Event,
    Note,
    Operator,
    Outcome,
    RecordingChunk,
    Screening,
    ServiceKind,
    ServiceRecord,
    SessionPhoto,
    SessionSignature,
    SessionStep,
    TreatmentCourse,
    TreatmentSession,
    ZoneComfort,
)
from app.store.reader import ReadCancelled
from app.store.signature import Signature
from app.store.vocabulary import ZoneRule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent as stored: ``text`` is the exact text signed and ``signature`` the
    client's signature (both None for a consent recorded before they were kept)."""

    id: int
    text_version: str
    given_at: dt.datetime
    text: str | None
    signature: Signature | None
    operator_id: int | None
    operator_name: str | None = None  # who recorded it (None: not recorded)
    host: str | None = None  # the console's computer that recorded it (since 0014)
    # a withdrawal (``given_at``: when it was withdrawn; ``text_version``: the text
    # withdrawn; no text or signature): no consent is in force
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    """A session's signature: printed name, date and time, meaning."""

    printed_name: str
    signed_at: dt.datetime
    meaning: str
    operator_id: int | None


@dataclass(frozen=True, slots=True)
class AmendmentRecord:
    id: int
    made_at: dt.datetime
    author_name: str
    field: str
    text: str
    reason: str
    operator_id: int | None


@dataclass(frozen=True, slots=True)
class ClientSummary:
    id: int
    name: str
    date_of_birth: dt.date | None
    is_training: bool
    last_session_at: dt.datetime | None
    sessions: int
    screening: screening.Status  # of the latest screening, today


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    id: int
    answers: dict[str, Any]
    screened_on: dt.date
    expires_on: dt.date
    overrides_acknowledged: tuple[str, ...]
    operator_id: int | None
    questionnaire_version: int
    created_at: dt.datetime | None = None  # when it was saved
    operator_name: str | None = None  # who saved it (None: not recorded)
    host: str | None = None  # the console's computer that saved it (since 0014)


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: int
    name: str
    date_of_birth: dt.date | None
    contact: str
    skin_notes: str
    current_limit_ua: float | None
    is_training: bool
    screening: ScreeningRecord | None  # the latest
    consent_version: str | None  # the latest consent's text version
    consent_at: dt.datetime | None
    notes: tuple[tuple[dt.datetime, str], ...]
    version: int = 1  # give it back in ClientData.version when saving an edit
    updated_at: dt.datetime | None = None
    updated_by: str | None = None  # the console (host) that saved it last
    consent: ConsentRecord | None = None  # the latest, with its text and signature


@dataclass(frozen=True, slots=True)
class SessionSummary:
    id: int
    uid: str
    client_id: int
    program: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: Outcome | None
    training: bool
    device_serial: str
    firmware: str
    charge_uc: float | None  # net, sum over steps
    mean_current_ua: float | None  # time-weighted over steps
    mean_impedance_ohm: float | None

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class StepRecord:
    position: int
    zone: str
    parameters: dict[str, Any]
    planned_s: float
    actual_s: float
    charge_uc: float | None  # net
    mean_current_ua: float | None
    mean_impedance_ohm: float | None
    charge_abs_uc: float | None = None  # total absolute (None: recorded before 0008)

    @property
    def charge_phases_uc(self) -> tuple[float, float] | None:
        """(positive, negative) phase charge, from the net and the absolute charge."""
        if self.charge_abs_uc is None or self.charge_uc is None:
            return None
        return (
            (self.charge_abs_uc + self.charge_uc) / 2,
            (self.charge_uc - self.charge_abs_uc) / 2,
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    timestamp: dt.datetime
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionDetail:
    summary: SessionSummary
    steps: tuple[StepRecord, ...]
    events: tuple[EventRecord, ...]
    chunks: int
    recorded_samples: int
    operator_name: str | None = None  # who ran it (None: not recorded)
    signature: SignatureRecord | None = None  # None: not signed (not locked)
    amendments: tuple[AmendmentRecord, ...] = ()  # oldest first
    notes: tuple[tuple[dt.datetime, str], ...] = ()  # the session's notes, as signed
    consent: ConsentRecord | None = None  # the client's consent in force at its start

    @property
    def locked(self) -> bool:
        return self.signature is not None


def _screening_record(row: Screening | None, saved_by: str | None = None) -> ScreeningRecord | None:
    """``saved_by``: the name of the operator who saved it."""
    if row is None:
        return None
    return ScreeningRecord(
        row.id,
        dict(row.answers or {}),
        row.screened_on,
        row.expires_on,
        tuple(row.overrides_acknowledged or ()),
        row.operator_id,
        row.questionnaire_version,
        row.created_at,
        saved_by,
        row.host,
    )


def _consent_record(row: Consent | None, recorded_by: str | None = None) -> ConsentRecord | None:
    """``recorded_by``: the name of the operator who recorded it."""
    if row is None:
        return None
    return ConsentRecord(
        row.id,
        row.text_version,
        row.given_at,
        row.text_snapshot,
        Signature.from_stored(row.signature_kind, row.signature, row.signed_name),
        row.operator_id,
        recorded_by,
        row.host,
        bool(row.withdrawn),
    )


def search_clients(
    engine: Engine,
    text: str = "",
    limit: int = 500,
    today: dt.date | None = None,
    questionnaire: screening.Questionnaire | None = None,
) -> list[ClientSummary]:
    """Clients whose name or contact contains ``text`` (case-insensitive), training first,
    each with the status of their latest screening."""
    last = (
        select(
            TreatmentSession.client_id,
            func.max(TreatmentSession.started_at).label("last"),
            func.count(TreatmentSession.id).label("n"),
        )
        .group_by(TreatmentSession.client_id)
        .subquery()
    )
    q = (
        select(Client, last.c.last, last.c.n)
        .outerjoin(last, last.c.client_id == Client.id)
        .order_by(Client.is_training.desc(), func.lower(Client.name), Client.id)
        .limit(limit)
    )
    words = text.strip().split()
    for w in words:
        pattern = f"%{w.lower()}%"
        q = q.where(
            or_(func.lower(Client.name).like(pattern), func.lower(Client.contact).like(pattern))
        )
    q_ = questionnaire or screening.load_questionnaire()
    day = today or dt.date.today()
    with Session(engine) as s:
        rows = s.execute(q).all()
        ids = [c.id for c, _, _ in rows]
        latest = (
            select(func.max(Screening.id))
            .where(Screening.client_id.in_(ids))
            .group_by(Screening.client_id)
        )
        screenings = (
            {x.client_id: x for x in s.scalars(select(Screening).where(Screening.id.in_(latest)))}
            if ids
            else {}
        )
        out = []
        for c, lst, n in rows:
            status = (
                screening.Status.CLEARED
                if c.is_training
                else screening.evaluate(screenings.get(c.id), c, day, q_).status
            )
            out.append(
                ClientSummary(
                    c.id, c.name, c.date_of_birth, c.is_training, lst, int(n or 0), status
                )
            )
        return out


def get_client(engine: Engine, client_id: int) -> ClientRecord | None:
    with Session(engine) as s:
        c = s.get(Client, client_id)
        if c is None:
            return None
        # the newest screening and consent, each with its operator's name (one query each)
        scr, scr_by = s.execute(
            select(Screening, Operator.name)
            .outerjoin(Operator, Operator.id == Screening.operator_id)
            .where(Screening.client_id == client_id)
            .order_by(Screening.id.desc())
            .limit(1)
        ).first() or (None, None)
        con, con_by = s.execute(
            select(Consent, Operator.name)
            .outerjoin(Operator, Operator.id == Consent.operator_id)
            .where(Consent.client_id == client_id)
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        ).first() or (None, None)
        notes = s.execute(
            select(Note.created_at, Note.text)
            .where(Note.client_id == client_id)
            .order_by(Note.created_at, Note.id)
        ).all()
        return ClientRecord(
            c.id,
            c.name,
            c.date_of_birth,
            c.contact,
            c.skin_notes,
            c.current_limit_ua,
            c.is_training,
            _screening_record(scr, scr_by),
            # a withdrawal leaves no consent in force
            con.text_version if con and not con.withdrawn else None,
            con.given_at if con and not con.withdrawn else None,
            tuple((t, x) for t, x in notes),
            c.version,
            c.updated_at,
            c.updated_by,
            _consent_record(con, con_by),
        )


def operator_name(engine: Engine, operator_id: int | None) -> str | None:
    """The operator's name (the printed name a signature offers), None if unknown."""
    if operator_id is None:
        return None
    with Session(engine) as s:
        return s.scalar(select(Operator.name).where(Operator.id == operator_id))


def training_client_id(engine: Engine) -> int | None:
    with Session(engine) as s:
        return s.scalar(
            select(Client.id).where(Client.is_training.is_(True)).order_by(Client.id).limit(1)
        )


def screening_status(
    engine: Engine,
    client_id: int,
    today: dt.date | None = None,
    questionnaire: screening.Questionnaire | None = None,
) -> screening.Evaluation:
    """The screening evaluation of a client's latest screening (the training client, who
    is a demo head, is always cleared)."""
    record = get_client(engine, client_id)
    if record is None:
        raise ValueError(f"client {client_id} does not exist")
    if record.is_training:
        return screening.Evaluation(screening.Status.CLEARED, ())
    return screening.evaluate(record.screening, record, today or dt.date.today(), questionnaire)


@dataclass(frozen=True, slots=True)
class TreatmentGate:
    """Whether output may start for a client, and why not (for the engine's start check)."""

    allowed: bool
    status: screening.Status
    reasons: tuple[str, ...]  # operator-readable, one per problem or accepted override
    current_limit_ua: float | None  # the client's own limit (None: the program's)
    is_training: bool
    zone_rules: tuple[ZoneRule, ...] = ()  # zones the screening excludes or limits


def treatment_gate(
    engine: Engine,
    client_id: int,
    today: dt.date | None = None,
    questionnaire: screening.Questionnaire | None = None,
    *,
    record: ClientRecord | None = None,
) -> TreatmentGate:
    """Output may start only with a cleared, unexpired screening and the current consent.
    The training client (a demo head) is always allowed. ``record``: the client's record
    as just read (by the caller, in the same breath), instead of reading it again."""
    if record is None or record.id != client_id:
        record = get_client(engine, client_id)
    if record is None:
        raise ValueError(f"client {client_id} does not exist")
    if record.is_training:
        return TreatmentGate(True, screening.Status.CLEARED, (), record.current_limit_ua, True)
    q = questionnaire or screening.load_questionnaire()
    today = today or dt.date.today()
    status, reasons = screening.evaluate(record.screening, record, today, q)
    rules = screening.zone_rules(record.screening, today, q)
    texts = [
        r.text + (" (override acknowledged)" if r.kind == "acknowledged" else "") for r in reasons
    ]
    consent_ok = not q.consent_text_version or record.consent_version == q.consent_text_version
    if not consent_ok:
        withdrawn = record.consent if record.consent and record.consent.withdrawn else None
        texts.append(
            f"Consent withdrawn on {withdrawn.given_at:%Y-%m-%d}: the client consents "
            "again before any treatment."
            if withdrawn is not None
            else f"Consent {q.consent_text_version} has not been recorded."
        )
    return TreatmentGate(
        status.allows_output and consent_ok,
        status,
        tuple(texts),
        record.current_limit_ua,
        False,
        rules,
    )


def comfort_levels(engine: Engine, client_id: int) -> dict[str, float]:
    """The intensity the client found comfortable per zone (zone id → µA), last time."""
    with Session(engine) as s:
        rows = s.execute(
            select(ZoneComfort.zone, ZoneComfort.intensity_ua).where(
                ZoneComfort.client_id == client_id
            )
        ).all()
    return {zone: float(ua) for zone, ua in rows}


def _summaries(s: Session, where: Any) -> list[SessionSummary]:
    steps = (
        select(
            SessionStep.session_id,
            func.sum(SessionStep.charge_uc).label("charge"),
            func.sum(SessionStep.mean_current_ua * SessionStep.actual_s).label("it"),
            func.sum(SessionStep.mean_impedance_ohm * SessionStep.actual_s).label("zt"),
            func.sum(SessionStep.actual_s).label("t"),
        )
        .group_by(SessionStep.session_id)
        .subquery()
    )
    q = (
        select(TreatmentSession, steps.c.charge, steps.c.it, steps.c.zt, steps.c.t)
        .outerjoin(steps, steps.c.session_id == TreatmentSession.id)
        .where(where)
        .order_by(TreatmentSession.started_at, TreatmentSession.id)
    )
    out = []
    for row, charge, it, zt, t in s.execute(q).all():
        mean_i = float(it) / float(t) if it is not None and t else None
        mean_z = float(zt) / float(t) if zt is not None and t else None
        out.append(
            SessionSummary(
                row.id,
                row.uid,
                row.client_id,
                row.program,
                row.started_at,
                row.ended_at,
                row.outcome,
                row.training,
                row.device_serial,
                row.firmware,
                float(charge) if charge is not None else None,
                mean_i,
                mean_z,
            )
        )
    return out


def session_history(engine: Engine, client_id: int) -> list[SessionSummary]:
    """A client's sessions, oldest first."""
    with Session(engine) as s:
        return _summaries(s, TreatmentSession.client_id == client_id)


def recent_sessions(engine: Engine, limit: int = 50) -> list[SessionSummary]:
    """The most recent sessions of every client (newest first), e.g. to pick a replay."""
    with Session(engine) as s:
        newest = (
            select(TreatmentSession.id)
            .order_by(TreatmentSession.started_at.desc(), TreatmentSession.id.desc())
            .limit(limit)
        )
        rows = _summaries(s, TreatmentSession.id.in_(newest.scalar_subquery()))
    return sorted(rows, key=lambda r: (r.started_at, r.id), reverse=True)


def session_detail(engine: Engine, session: int | str) -> SessionDetail | None:
    """A session by id or uid, with its steps and events."""
    with Session(engine) as s:
        where = (
            TreatmentSession.uid == session
            if isinstance(session, str)
            else TreatmentSession.id == session
        )
        found = _summaries(s, where)
        if not found:
            return None
        summary = found[0]
        steps = s.scalars(
            select(SessionStep)
            .where(SessionStep.session_id == summary.id)
            .order_by(SessionStep.position, SessionStep.id)
        ).all()
        events = s.scalars(
            select(Event).where(Event.session_id == summary.id).order_by(Event.timestamp, Event.id)
        ).all()
        n_chunks, n_samples = s.execute(
            select(
                func.count(RecordingChunk.id), func.coalesce(func.sum(RecordingChunk.n), 0)
            ).where(RecordingChunk.session_id == summary.id)
        ).one()
        sig = s.scalar(select(SessionSignature).where(SessionSignature.session_id == summary.id))
        amendments = s.scalars(
            select(Amendment)
            .where(Amendment.session_id == summary.id)
            .order_by(Amendment.made_at, Amendment.id)
        ).all()
        notes = s.execute(
            select(Note.created_at, Note.text)
            .where(Note.session_id == summary.id)
            .order_by(Note.created_at, Note.id)
        ).all()
        # the consent in force when the session began (None: none was recorded before,
        # or the last one before was withdrawn)
        consent = s.scalar(
            select(Consent)
            .where(Consent.client_id == summary.client_id, Consent.given_at <= summary.started_at)
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        )
        if consent is not None and consent.withdrawn:
            consent = None
        return SessionDetail(
            summary,
            tuple(
                StepRecord(
                    x.position,
                    x.zone,
                    dict(x.parameters or {}),
                    x.planned_s,
                    x.actual_s,
                    x.charge_uc,
                    x.mean_current_ua,
                    x.mean_impedance_ohm,
                    x.charge_abs_uc,
                )
                for x in steps
            ),
            tuple(EventRecord(e.timestamp, e.kind, dict(e.payload or {})) for e in events),
            int(n_chunks),
            int(n_samples),
            s.scalar(
                select(Operator.name)
                .join(TreatmentSession, TreatmentSession.operator_id == Operator.id)
                .where(TreatmentSession.id == summary.id)
            ),
            None
            if sig is None
            else SignatureRecord(sig.printed_name, sig.signed_at, sig.meaning, sig.operator_id),
            tuple(
                AmendmentRecord(
                    a.id, a.made_at, a.author_name, a.field, a.text, a.reason, a.operator_id
                )
                for a in amendments
            ),
            tuple((t, x) for t, x in notes),
            _consent_record(consent),
        )


def load_recording(
    engine: Engine, session_id: int, cancel: threading.Event | None = None
) -> recording.Recording:
    """The session's recorded current and voltage as fresh arrays (NaN marks gaps), read
    one chunk at a time (``cancel`` stops it between chunks: ReadCancelled)."""
    spans = _chunk_spans(engine, session_id)
    rate = spans[0][1] if spans else 0.0
    damaged: list[tuple[int, int, str]] = []
    rec = recording.assemble(
        [
            (f, rate, c, v)
            for f, c, v in _stream_chunks(engine, session_id, cancel=cancel, damaged=damaged)
        ]
    )
    if damaged and not rec.n_samples:  # nothing readable: the recording's rate still holds
        rec = replace(rec, sample_rate=rate)
    return _with_damage(rec, damaged)


def _with_damage(rec, damaged: list[tuple[int, int, str]]):
    """``rec`` (a Recording or RecordingOverview) saying how much could not be decoded."""
    if not damaged:
        return rec
    return replace(rec, damaged_chunks=len(damaged), damaged_samples=sum(n for _, n, _ in damaged))


@dataclass(frozen=True, slots=True)
class ServiceRecordSummary:
    """A calibration, self-test or watchdog test as recorded (``payload``: its figures)."""

    id: int
    at: dt.datetime
    kind: ServiceKind
    device_serial: str
    firmware: str
    passed: bool | None
    payload: dict[str, Any]
    operator_id: int | None

    @property
    def verdict(self) -> str:
        return "—" if self.passed is None else ("PASS" if self.passed else "FAIL")


def service_records(
    engine: Engine, device_serial: str | None = None, limit: int = 100
) -> list[ServiceRecordSummary]:
    """The newest service records (newest first), of one device when ``device_serial``."""
    q = select(ServiceRecord).order_by(ServiceRecord.at.desc(), ServiceRecord.id.desc())
    if device_serial is not None:
        q = q.where(ServiceRecord.device_serial == device_serial)
    with Session(engine) as s:
        return [
            ServiceRecordSummary(
                r.id,
                r.at,
                ServiceKind(r.kind),
                r.device_serial,
                r.firmware,
                r.passed,
                dict(r.payload or {}),
                r.operator_id,
            )
            for r in s.scalars(q.limit(max(0, int(limit))))
        ]


@dataclass(frozen=True, slots=True)
class RecordingOverview:
    """A recording reduced for display: per bucket of samples, the lowest and highest
    current and voltage (spikes stay visible), never the whole recording in memory."""

    sample_rate: float
    t_s: np.ndarray  # float64, the start of each bucket, seconds since the first sample
    current_min: np.ndarray  # float32, NaN where nothing was recorded (a gap)
    current_max: np.ndarray
    voltage_min: np.ndarray
    voltage_max: np.ndarray
    n_samples: int
    duration_s: float
    damaged_chunks: int = 0  # chunks that could not be decoded: shown as gaps
    damaged_samples: int = 0

    def envelope(self, which: str = "current") -> tuple[np.ndarray, np.ndarray]:
        """(x, y) drawing the envelope as one polyline: min then max of each bucket."""
        lo, hi = (
            (self.current_min, self.current_max)
            if which == "current"
            else (self.voltage_min, self.voltage_max)
        )
        x = np.repeat(self.t_s, 2)
        y = np.empty(x.size, dtype=np.float32)
        y[0::2], y[1::2] = lo, hi
        return x, y


def _chunk_spans(engine: Engine, session_id: int) -> list[tuple[int, float, int]]:
    with Session(engine) as s:
        rows = s.execute(
            select(RecordingChunk.first_index, RecordingChunk.sample_rate, RecordingChunk.n)
            .where(RecordingChunk.session_id == session_id)
            .order_by(RecordingChunk.first_index)
        ).all()
    return [(int(f), float(r), int(n)) for f, r, n in rows]


def _stream_chunks(
    engine: Engine,
    session_id: int,
    first_from: int | None = None,
    first_to: int | None = None,
    cancel: threading.Event | None = None,
    damaged: list[tuple[int, int, str]] | None = None,
):
    """Decoded chunks (first_index, current, voltage), one at a time, in index order.

    A chunk that cannot be decoded raises ValueError, or, given a ``damaged`` list, is
    left out (a gap where it was) and listed there as (first_index, samples, why): the
    rest of the recording stays readable."""
    stmt = (
        select(
            RecordingChunk.first_index,
            RecordingChunk.n,
            RecordingChunk.encoding,
            RecordingChunk.data,
        )
        .where(RecordingChunk.session_id == session_id)
        .order_by(RecordingChunk.first_index)
    )
    if first_from is not None:
        stmt = stmt.where(RecordingChunk.first_index + RecordingChunk.n > first_from)
    if first_to is not None:
        stmt = stmt.where(RecordingChunk.first_index < first_to)
    with Session(engine) as s:
        for first, n, enc, data in s.execute(stmt.execution_options(yield_per=8)):
            if cancel is not None and cancel.is_set():
                raise ReadCancelled(f"reading session {session_id}'s recording was cancelled")
            try:
                cur, volt = recording.decode(data, n, enc)
            except ValueError as exc:
                if damaged is None:
                    raise
                log.warning("session %s: recording chunk at sample %s: %s", session_id, first, exc)
                damaged.append((int(first), int(n), str(exc)))
                continue
            yield int(first), cur, volt


def recording_overview(
    engine: Engine, session_id: int, points: int = 4000, cancel: threading.Event | None = None
) -> RecordingOverview:
    """The recording as at most ``points`` min/max buckets, read one chunk at a time (a
    20-minute recording at 10 kS/s needs a few MB, not 200)."""
    spans = _chunk_spans(engine, session_id)
    empty = np.zeros(0, dtype=np.float32)
    if not spans:
        return RecordingOverview(0.0, np.zeros(0), empty, empty, empty, empty, 0, 0.0)
    first0, rate = spans[0][0], spans[0][1]
    end = max(f + n for f, _, n in spans)
    total = sum(n for _, _, n in spans)
    per = max(1, -(-(end - first0) // max(1, points)))
    buckets = -(-(end - first0) // per)
    lo_i = np.full(buckets, np.inf, dtype=np.float32)
    hi_i = np.full(buckets, -np.inf, dtype=np.float32)
    lo_v, hi_v = lo_i.copy(), hi_i.copy()
    damaged: list[tuple[int, int, str]] = []
    for first, cur, volt in _stream_chunks(engine, session_id, cancel=cancel, damaged=damaged):
        idx = (first - first0 + np.arange(len(cur))) // per
        np.minimum.at(lo_i, idx, cur)
        np.maximum.at(hi_i, idx, cur)
        np.minimum.at(lo_v, idx, volt)
        np.maximum.at(hi_v, idx, volt)
    for a in (lo_i, hi_i, lo_v, hi_v):
        a[~np.isfinite(a)] = np.nan  # buckets with no sample: a gap
    t = np.arange(buckets, dtype=np.float64) * per / rate
    total -= sum(n for _, n, _ in damaged)
    return _with_damage(
        RecordingOverview(
            rate,
            t,
            lo_i,
            hi_i,
            lo_v,
            hi_v,
            total,
            (end - first0 - 1) / rate if end > first0 else 0.0,
        ),
        damaged,
    )


def recording_window(
    engine: Engine, session_id: int, t0_s: float, t1_s: float, cancel: threading.Event | None = None
) -> recording.Recording:
    """The samples between ``t0_s`` and ``t1_s`` (seconds since the first sample) at full
    resolution: the detail a zoomed view asks for, reading only the chunks it needs."""
    spans = _chunk_spans(engine, session_id)
    if not spans:
        return recording.assemble([])
    first0, rate = spans[0][0], spans[0][1]
    lo = first0 + max(0, int(t0_s * rate))
    hi = first0 + int(math.ceil(t1_s * rate)) + 1
    damaged: list[tuple[int, int, str]] = []
    parts = [
        (f, rate, c, v)
        for f, c, v in _stream_chunks(engine, session_id, lo, hi, cancel, damaged=damaged)
    ]
    rec = recording.assemble(parts)
    if parts:  # times since the recording's first sample, not the window's
        rec = replace(rec, t_s=rec.t_s + (parts[0][0] - first0) / rate)
    return _with_damage(rec, damaged)


def zone_minutes(engine: Engine, client_id: int) -> tuple[dict[str, float], int]:
    """Minutes of treatment per zone over the client's sessions, in one query (the heat
    map), and how many sessions that covers."""
    minutes: dict[str, float] = {}
    with Session(engine) as s:
        rows = s.execute(
            select(SessionStep.zone, SessionStep.actual_s)
            .join(TreatmentSession, SessionStep.session_id == TreatmentSession.id)
            .where(TreatmentSession.client_id == client_id)
        ).all()
        sessions = (
            s.scalar(
                select(func.count())
                .select_from(TreatmentSession)
                .where(TreatmentSession.client_id == client_id)
            )
            or 0
        )
    for zone, actual_s in rows:
        for z in (zone or "").split(","):
            if z and z != "manual":
                minutes[z] = minutes.get(z, 0.0) + (actual_s or 0.0) / 60.0
    return minutes, int(sessions)


def change_stamp(engine: Engine) -> tuple:
    """A small fingerprint of everything the records views show (clients and their
    versions, screenings, consents, notes, sessions begun and ended, photos, courses and
    the sessions counted in them): it changes when any
    room writes one of them. One query; views compare it to know when to read again."""
    with Session(engine) as s:
        row = s.execute(
            select(
                select(func.count(Client.id)).scalar_subquery(),
                select(func.coalesce(func.sum(Client.version), 0)).scalar_subquery(),
                select(func.max(Screening.id)).scalar_subquery(),
                select(func.max(Consent.id)).scalar_subquery(),
                select(func.max(Note.id)).scalar_subquery(),
                select(func.max(TreatmentSession.id)).scalar_subquery(),
                select(func.count(TreatmentSession.ended_at)).scalar_subquery(),
                select(func.max(SessionSignature.id)).scalar_subquery(),
                select(func.max(Amendment.id)).scalar_subquery(),
                # photos added or removed, courses planned or edited, sessions counted
                select(func.count(SessionPhoto.id)).scalar_subquery(),
                select(func.max(SessionPhoto.id)).scalar_subquery(),
                select(func.coalesce(func.sum(TreatmentCourse.version), 0)).scalar_subquery(),
                select(func.count(TreatmentCourse.id)).scalar_subquery(),
                select(func.count(CourseSession.session_id)).scalar_subquery(),
            )
        ).one()
    return tuple(row)
