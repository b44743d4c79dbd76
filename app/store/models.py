"""The records schema: SQLAlchemy 2 typed models. No Qt.

Times are stored in UTC (``UTCDateTime`` makes every loaded value timezone-aware on
SQLite as well as PostgreSQL). A treatment session has a ``uid`` (UUID text) chosen by
the caller, so the engine can refer to a session before the writer thread has inserted
it (the GUI never waits for a database id).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from app.store.vocabulary import Outcome, ServiceKind  # noqa: F401 - re-exported

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: use timezone-aware UTC times")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Operator(Base):
    """A person who runs the console: a practitioner, trainer, technician or manager
    (``role``, see app/store/operators.py). Only a salted scrypt hash of their secret
    (PIN or passphrase) is kept, with the count of wrong secrets in a row (the lockout is
    derived from it, app/service/pin.py) and ``secret_version`` (+1 at every change).
    Never deleted: a deactivated operator (``active`` false) cannot sign in, and the
    records they made keep naming them."""

    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    role: Mapped[str] = mapped_column(
        String(20), default="practitioner", server_default="practitioner"
    )
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    secret_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    secret_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Client(Base):
    """A person treated with the device. ``is_training`` marks the built-in demo client."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    contact: Mapped[str] = mapped_column(String(300), default="")
    skin_notes: Mapped[str] = mapped_column(Text, default="")
    current_limit_ua: Mapped[float | None] = mapped_column(Float)
    is_training: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # optimistic concurrency: +1 at every save; a save from an older version is refused
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_by: Mapped[str | None] = mapped_column(String(255))  # the console (host)

    screenings: Mapped[list[Screening]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Screening.screened_on",
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )
    comfort: Mapped[list[ZoneComfort]] = relationship(
        back_populates="client", cascade="all, delete-orphan", passive_deletes=True
    )


class Screening(Base):
    """Answers to the contraindication questionnaire (resources/screening.json)."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    questionnaire_version: Mapped[int] = mapped_column(Integer, default=1)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    screened_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    # ids of relative contraindications whose override the operator acknowledged
    overrides_acknowledged: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    host: Mapped[str | None] = mapped_column(String(255))  # the console's computer (0014)

    client: Mapped[Client] = relationship(back_populates="screenings")
    operator: Mapped[Operator | None] = relationship()


class Consent(Base):
    """The client agreed to the consent text of ``text_version`` at ``given_at``.

    Since migration 0010 a consent carries the exact text signed (``text_snapshot``) and
    the client's signature: ``signature_kind`` "drawn" (``signature``: the strokes, see
    app/store/signature.py) or "typed" (the name typed as the signature), and
    ``signed_name`` (the client's name as printed under it). Consents recorded before keep
    NULL there. A consent is immutable once stored (see ``_refuse_changes_to_signed``).
    Since migration 0014 a row with ``withdrawn`` true records that the client withdrew
    their consent (:class:`app.store.writer.WithdrawConsent`).
    """

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    text_version: Mapped[str] = mapped_column(String(40))
    given_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    text_snapshot: Mapped[str | None] = mapped_column(Text)
    signature_kind: Mapped[str | None] = mapped_column(String(10))
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    signed_name: Mapped[str | None] = mapped_column(String(200))
    # migration 0014: a withdrawal (a row of its own: the text version withdrawn, when
    # and by whom, no text or signature); the client has no consent in force after it
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    host: Mapped[str | None] = mapped_column(String(255))  # the console's computer (0014)

    client: Mapped[Client] = relationship(back_populates="consents")


class TreatmentSession(Base):
    """One treatment (or training) session: who, what program, which device, how it ended."""

    __tablename__ = "treatment_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    program: Mapped[str] = mapped_column(String(200), default="")
    device_serial: Mapped[str] = mapped_column(String(80), default="")
    firmware: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    outcome: Mapped[Outcome | None] = mapped_column(
        Enum(Outcome, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])
    )
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    # liveness of an open session: the console process writing it and its last heartbeat
    # (NULL once that writer closed): see database.mark_interrupted_sessions
    writer_host: Mapped[str | None] = mapped_column(String(255))
    writer_pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column()

    client: Mapped[Client] = relationship(back_populates="sessions")
    operator: Mapped[Operator | None] = relationship()
    steps: Mapped[list[SessionStep]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SessionStep.position",
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Event.id",
    )
    chunks: Mapped[list[RecordingChunk]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="RecordingChunk.chunk_index",
    )


class SessionStep(Base):
    """One step of a program as delivered (one face zone)."""

    __tablename__ = "session_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    zone: Mapped[str] = mapped_column(String(80))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    planned_s: Mapped[float] = mapped_column(Float)
    actual_s: Mapped[float] = mapped_column(Float)
    charge_uc: Mapped[float | None] = mapped_column(Float)  # net (positive + negative phase)
    # total absolute charge (|positive| + |negative| phase); NULL for steps recorded before
    # migration 0008. Per phase: positive = (abs + net) / 2, negative = (net - abs) / 2
    charge_abs_uc: Mapped[float | None] = mapped_column(Float)
    mean_current_ua: Mapped[float | None] = mapped_column(Float)
    mean_impedance_ohm: Mapped[float | None] = mapped_column(Float)

    session: Mapped[TreatmentSession] = relationship(back_populates="steps")


class Event(Base):
    """A timestamped state change, parameter change or alarm of a session."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_session.id", ondelete="CASCADE"))
    timestamp: Mapped[dt.datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    session: Mapped[TreatmentSession] = relationship(back_populates="events")


class RecordingChunk(Base):
    """About one second of the delivered current and voltage, zlib-compressed.

    ``data`` is ``zlib(current_ua float32[n] ++ voltage_v float32[n])`` (little-endian),
    see ``app.store.recording``. ``first_index`` is the device's sample counter.
    """

    __tablename__ = "recording_chunk"
    __table_args__ = (UniqueConstraint("session_id", "chunk_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_session.id", ondelete="CASCADE"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    first_index: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(20), default="f4le-cv-zlib")
    data: Mapped[bytes] = mapped_column(LargeBinary)

    session: Mapped[TreatmentSession] = relationship(back_populates="chunks")


class Note(Base):
    """A free-text note about a client, optionally tied to a session."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE")
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    client: Mapped[Client] = relationship(back_populates="notes")


SERVICE_KINDS_CHECK = (
    "kind IN ('calibration', 'selftest', 'watchdog_test', 'clinic_settings', 'pin')"
)


class ZoneComfort(Base):
    """The intensity a client found comfortable on one face-map zone: the level the
    practitioner settled on when the last step on that zone ended (one row per zone,
    replaced each time). Offered as the starting intensity next time, never above the
    live limits."""

    __tablename__ = "zone_comfort"
    __table_args__ = (UniqueConstraint("client_id", "zone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    zone: Mapped[str] = mapped_column(String(80))
    intensity_ua: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    session_uid: Mapped[str | None] = mapped_column(String(36))  # the session it came from

    client: Mapped[Client] = relationship(back_populates="comfort")


class ServiceRecord(Base):
    """A technician's calibration, self-test or watchdog test of a device, with its result.

    ``payload`` is the result's ``as_dict()`` (figures, points, verdicts); ``passed`` is
    ``None`` when the procedure has no pass/fail verdict.
    """

    __tablename__ = "service_record"
    __table_args__ = (CheckConstraint(SERVICE_KINDS_CHECK, name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[ServiceKind] = mapped_column(
        Enum(
            ServiceKind,
            native_enum=False,
            length=20,
            create_constraint=False,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    device_serial: Mapped[str] = mapped_column(String(80), default="", index=True)
    firmware: Mapped[str] = mapped_column(String(80), default="")
    passed: Mapped[bool | None] = mapped_column(Boolean)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))


class ClinicConfig(Base):
    """The clinic's settings, the technician PIN hash and its lockout: one row (id 1),
    shared by every console on this store (see app/store/clinic.py).

    ``settings`` is the engine's ClinicSettings as a JSON object; ``version`` goes up at
    every change of the settings (other rooms poll it). ``pin_ever_set`` stays true once
    a PIN was set, until ``db reset-pin``: a missing hash then never offers a new set-up.
    ``pin_failures`` counts wrong PINs in a row (each attempt is counted before it is
    checked); the lockout is derived from it, not from any stored time.
    """

    __tablename__ = "clinic_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    pin_ever_set: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditEntry(Base):
    """One line of the tamper-evident audit trail (app/store/audit.py): append-only.

    ``hash`` is SHA-256 over ``prev_hash`` and a canonical JSON of the entry (its id,
    time, operator, host, action, subject and details); ``prev_hash`` is the hash of the
    entry before it (``GENESIS`` for the first). ``details`` never holds personal data
    (no names, notes or file paths), so erasing a client keeps the entries. No foreign
    keys: an entry outlives the client, session or operator it names.
    """

    __tablename__ = "audit_entry"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    operator_id: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SessionSignature(Base):
    """A finished session signed by its practitioner (21 CFR 11.50: printed name, date
    and time, meaning). One per session; a signed session is locked: its steps, events,
    notes and outcome are never changed again, corrections are :class:`Amendment` rows."""

    __tablename__ = "session_signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), unique=True
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[dt.datetime] = mapped_column()


class Amendment(Base):
    """A dated correction of a signed session: who, when, what (``field``), the text and
    why. Appended only: the original record stays as it was signed."""

    __tablename__ = "amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), index=True
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    made_at: Mapped[dt.datetime] = mapped_column()
    field: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class TreatmentCourse(Base):
    """A planned course of treatments for a client: ``planned_sessions`` sessions of
    ``program``, from ``start_date``, every ``every_days`` days or ``per_week`` times a
    week (exactly one of the two is set). ``closed_on`` ends it early or marks it done.
    ``version`` goes up at every save; a save from an older version is refused (two
    rooms editing one course: one is told, nothing is overwritten). See
    app/store/courses.py and the pure arithmetic in app/store/course_plan.py."""

    __tablename__ = "treatment_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    program: Mapped[str] = mapped_column(String(200), default="")
    planned_sessions: Mapped[int] = mapped_column(Integer)
    every_days: Mapped[int | None] = mapped_column(Integer)
    per_week: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_by: Mapped[str | None] = mapped_column(String(255))


class CourseSession(Base):
    """A treatment session counted in a course (at most one course per session)."""

    __tablename__ = "course_session"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_course.id", ondelete="CASCADE"), index=True
    )


class SessionPhoto(Base):
    """A before/after photo of a session, stored in the database like the recordings
    (health data: in the 0600 database file, backed up, exported and erased with the
    client). ``data`` is a JPEG re-encoded by app/store/photos.py — orientation applied,
    every EXIF/XMP/ICC field (GPS, camera serial, …) dropped; ``thumbnail`` a small one."""

    __tablename__ = "session_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(10))  # "before" | "after"
    zone: Mapped[str | None] = mapped_column(String(80))
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)


Index("ix_event_session_time", Event.session_id, Event.timestamp)


# ---------------------------------------------------------------- the lock


class LockedRecordError(ValueError):
    """A change of a signed (locked) record was refused: the message says which record,
    why, and what to do instead."""


def locked_message(session_id: int, signed_at: dt.datetime) -> str:
    when = signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Session {session_id} was signed on {when} and is locked: its steps, events, "
        "notes and outcome cannot be changed. Add an amendment to correct it."
    )


# rows of a session that its signature locks
_SESSION_PARTS = (SessionStep, Event, RecordingChunk, Note)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_signed(s: Session, _ctx: object, _instances: object) -> None:
    """The lock, in one place: every ORM write of the store passes here (the writer's,
    a command's, a test's). A new or changed row of a signed session, or a change of a
    consent, signature or amendment already stored, raises :class:`LockedRecordError`
    and nothing of the flush is written. Deleting is left to erasure (which removes a
    client's every row on purpose, and is audited)."""
    changed = [o for o in s.dirty if s.is_modified(o, include_collections=False)]
    for obj in changed:
        if isinstance(obj, Consent):
            raise LockedRecordError(
                f"Consent {obj.id} was signed on "
                f"{obj.given_at.astimezone(dt.UTC):%Y-%m-%d %H:%M UTC} and cannot be "
                "changed: record a new consent instead."
            )
        if isinstance(obj, SessionSignature | Amendment):
            raise LockedRecordError(
                f"A session's {'signature' if isinstance(obj, SessionSignature) else 'amendment'}"
                " cannot be changed once recorded."
            )
    ids: set[int] = set()
    for obj in [*changed, *s.new]:
        if isinstance(obj, TreatmentSession) and obj in changed:
            ids.add(obj.id)
        elif isinstance(obj, _SESSION_PARTS) and obj.session_id is not None:
            ids.add(obj.session_id)
    if not ids:
        return
    with s.no_autoflush:
        signed = s.execute(
            select(SessionSignature.session_id, SessionSignature.signed_at)
            .where(SessionSignature.session_id.in_(ids))
            .order_by(SessionSignature.session_id)
            .limit(1)
        ).first()
    if signed is not None:
        raise LockedRecordError(locked_message(signed.session_id, signed.signed_at))
