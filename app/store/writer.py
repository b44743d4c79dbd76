"""The one writer: a thread that owns every write to the records store. No Qt.

Callers (GUI, engine) submit typed requests and never wait: each call returns at once
with a :class:`concurrent.futures.Future` resolved after the commit (its callbacks run
in the writer thread — hop to the GUI thread with a queued signal). The serial thread
never touches the database: it hands sample blocks to the engine/GUI, which pass them
here with :meth:`StoreWriter.add_samples`.

Durability: the writer commits as soon as its queue is drained (so usually within
milliseconds), recordings are cut into chunks of about one second, and a partial chunk
is written when it is a second old; a crash therefore loses at most about the last
second. When the database fails (locked, disk full, read-only, server gone) the pending
writes are kept and retried every ``retry_s``; each new problem is reported once through
``on_error(message)``. A request that is itself invalid fails alone (its future carries
the exception, and it is reported) without holding up the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, Engine, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.device.samples import SampleBlock
from app.store import recording
from app.store.audit import ACTIONS, AppendAudit, lock_audit_trail
from app.store.audit import append as append_audit
from app.store.database import HEARTBEAT_S, StaleRecordError, StoreError, describe_error
from app.store.models import (
    Amendment,
    Client,
    Consent,
    Event,
    LockedRecordError,
    Note,
    Operator,
    Outcome,
    RecordingChunk,
    Screening,
    ServiceKind,
    ServiceRecord,
    SessionSignature,
    SessionStep,
    TreatmentSession,
    ZoneComfort,
    utcnow,
)
from app.store.signature import Signature, SignatureError
from app.store.validation import ClientData, validate_client
from app.store.vocabulary import AMENDABLE, SIGNATURE_MEANINGS
from app.threadname import name_os_thread

log = logging.getLogger(__name__)

MAX_PENDING = 200_000

# what a refused request was, in words (the error listeners' messages)
_WHAT = {
    "BeginSession": "The start of a session",
    "AddEvent": "A session event",
    "AddStep": "A treatment step",
    "UpdateStep": "A treatment step's figures",
    "WriteChunk": "Part of a session's recording",
    "EndSession": "The end of a session",
    "Heartbeat": "A session's heartbeat",
    "SaveClient": "A client's details",
    "AddScreening": "A screening",
    "AddConsent": "A consent",
    "WithdrawConsent": "The withdrawal of a consent",
    "AddNote": "A note",
    "SaveComfort": "A client's comfortable intensity",
    "AddServiceRecord": "A service record",
    "ImportClinic": "The clinic settings imported from settings.ini",
    "SaveClinicSettings": "A change of the clinic settings",
    "SetPinHash": "The technician PIN",
    "CountPinAttempt": "A technician PIN attempt",
    "ClearPinFailures": "The technician PIN's failure count",
    "AppendAudit": "An audit trail entry",
    "AddOperator": "A new operator",
    "CountSignIn": "A sign-in attempt",
    "ClearSignInFailures": "An operator's failed sign-in count",
    "SetOperatorSecret": "An operator's secret",
    "ChangeOperator": "A change of an operator's role or status",
    "SignSession": "A session's signature",
    "AmendSession": "An amendment",
    "AddPhoto": "A session photo",
    "DeletePhoto": "The removal of a session photo",
    "SaveCourse": "A treatment course",
    "LinkCourseSession": "A session's treatment course",
}


class _State:
    """Writer-thread bookkeeping: session uid → row id, chunk counters."""

    def __init__(self) -> None:
        self.session_ids: dict[str, int] = {}
        self.next_chunk: dict[str, int] = {}

    def session_id(self, s: Session, uid: str, tentative: dict[str, int]) -> int:
        sid = tentative.get(uid) or self.session_ids.get(uid)
        if sid is None:
            sid = s.scalar(select(TreatmentSession.id).where(TreatmentSession.uid == uid))
            if sid is None:
                raise ValueError(f"session {uid} is not in the database (begin_session first)")
            self.session_ids[uid] = sid
        return sid


# ---------------------------------------------------------------- requests (typed)


@dataclass(frozen=True, slots=True)
class BeginSession:
    uid: str
    client_id: int
    operator_id: int | None
    program: str
    device_serial: str
    firmware: str
    started_at: dt.datetime
    training: bool | None  # None: training exactly when the client is the training client

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        client = s.get(Client, self.client_id)
        if client is None:
            raise ValueError(f"client {self.client_id} does not exist")
        training = (
            client.is_training if self.training is None else (self.training or client.is_training)
        )
        row = TreatmentSession(
            uid=self.uid,
            client_id=self.client_id,
            operator_id=self.operator_id,
            program=self.program,
            device_serial=self.device_serial,
            firmware=self.firmware,
            started_at=self.started_at,
            training=training,
            writer_host=socket.gethostname(),
            writer_pid=os.getpid(),
            heartbeat_at=utcnow(),
        )
        s.add(row)
        s.flush()
        tentative[self.uid] = row.id
        screening = s.scalar(
            select(Screening)
            .where(Screening.client_id == self.client_id)
            .order_by(Screening.id.desc())
            .limit(1)
        )
        if screening is not None and screening.overrides_acknowledged:
            # the overrides the practitioner accepted are logged with every session
            s.add(
                Event(
                    session_id=row.id,
                    timestamp=self.started_at,
                    kind="screening_overrides",
                    payload={
                        "screening_id": screening.id,
                        "screened_on": screening.screened_on.isoformat(),
                        "items": list(screening.overrides_acknowledged),
                    },
                )
            )
        return row.id


@dataclass(frozen=True, slots=True)
class AddEvent:
    session_uid: str
    kind: str
    payload: dict[str, Any]
    timestamp: dt.datetime

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        s.add(
            Event(
                session_id=st.session_id(s, self.session_uid, tentative),
                timestamp=self.timestamp,
                kind=self.kind,
                payload=self.payload,
            )
        )


@dataclass(frozen=True, slots=True)
class AddStep:
    session_uid: str
    position: int
    zone: str
    parameters: dict[str, Any]
    planned_s: float
    actual_s: float
    charge_uc: float | None = None
    mean_current_ua: float | None = None
    mean_impedance_ohm: float | None = None
    charge_abs_uc: float | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        s.add(
            SessionStep(
                session_id=st.session_id(s, self.session_uid, tentative),
                position=self.position,
                zone=self.zone,
                parameters=self.parameters,
                planned_s=self.planned_s,
                actual_s=self.actual_s,
                charge_uc=self.charge_uc,
                mean_current_ua=self.mean_current_ua,
                mean_impedance_ohm=self.mean_impedance_ohm,
                charge_abs_uc=self.charge_abs_uc,
            )
        )


@dataclass(frozen=True, slots=True)
class UpdateStep:
    """New totals for the step at ``position`` written last in the session: the recorder's
    step under way (written as soon as it delivered output, brought up to date every
    second and at its end, so a console killed mid-step leaves its step recorded)."""

    session_uid: str
    position: int
    parameters: dict[str, Any]
    actual_s: float
    charge_uc: float | None = None
    mean_current_ua: float | None = None
    mean_impedance_ohm: float | None = None
    charge_abs_uc: float | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        sid = st.session_id(s, self.session_uid, tentative)
        row = s.scalar(
            select(SessionStep)
            .where(SessionStep.session_id == sid, SessionStep.position == self.position)
            .order_by(SessionStep.id.desc())
            .limit(1)
        )
        if row is None:
            raise ValueError(
                f"step {self.position + 1} of session {self.session_uid} is not stored"
            )
        row.parameters = self.parameters
        row.actual_s = self.actual_s
        row.charge_uc = self.charge_uc
        row.mean_current_ua = self.mean_current_ua
        row.mean_impedance_ohm = self.mean_impedance_ohm
        row.charge_abs_uc = self.charge_abs_uc


@dataclass(frozen=True, slots=True)
class AddSamples:
    """Samples of a session's recording (chunked in the writer thread, ~1 s per row)."""

    session_uid: str
    first_index: int
    sample_rate: float
    current_ua: np.ndarray
    voltage_v: np.ndarray


@dataclass(frozen=True, slots=True)
class WriteChunk:
    session_uid: str
    chunk_index: int
    chunk: recording.Chunk

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        c = self.chunk
        s.add(
            RecordingChunk(
                session_id=st.session_id(s, self.session_uid, tentative),
                chunk_index=self.chunk_index,
                first_index=c.first_index,
                sample_rate=c.sample_rate,
                n=c.n,
                encoding=recording.ENCODING,
                data=recording.encode(c.current_ua, c.voltage_v),
            )
        )


@dataclass(frozen=True, slots=True)
class EndSession:
    session_uid: str
    outcome: Outcome
    ended_at: dt.datetime

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        row = s.get(TreatmentSession, st.session_id(s, self.session_uid, tentative))
        if row is None:
            raise ValueError(
                f"session {self.session_uid} is not in the database (its client "
                "may have been erased)"
            )
        row.outcome = self.outcome
        row.ended_at = self.ended_at
        row.heartbeat_at = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """This console still records these open sessions (``alive``), or stopped doing so."""

    session_uids: tuple[str, ...]
    alive: bool

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> None:
        s.execute(
            update(TreatmentSession)
            .where(TreatmentSession.uid.in_(self.session_uids), TreatmentSession.outcome.is_(None))
            .values(heartbeat_at=utcnow() if self.alive else None)
        )


@dataclass(frozen=True, slots=True)
class SaveClient:
    appends_audit = True  # noqa: RUF045 - class constant: a change of the client's limit
    data: ClientData
    operator_id: int | None = None  # who saves (the writer names the operator signed in)

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        problems = validate_client(self.data, dt.date.today())
        if problems:
            raise ValueError("; ".join(problems))
        d = self.data
        values = {
            "name": d.name.strip(),
            "date_of_birth": d.date_of_birth,
            "contact": d.contact.strip(),
            "skin_notes": d.skin_notes,
            "current_limit_ua": d.current_limit_ua,
            "updated_by": socket.gethostname(),
        }
        if d.id is None:
            row = Client(**values, version=1)
            s.add(row)
            s.flush()
            if d.current_limit_ua is not None:
                _audit_limit(s, row.id, None, d.current_limit_ua, self.operator_id)
            return row.id
        old_limit = s.scalar(select(Client.current_limit_ua).where(Client.id == d.id))
        # one conditional UPDATE: atomic on SQLite and PostgreSQL, so of two rooms saving
        # the same version exactly one succeeds; the other is told, nothing is lost
        stmt = update(Client).where(Client.id == d.id)
        if d.version is not None:
            stmt = stmt.where(Client.version == d.version)
        result = s.execute(
            stmt.values(
                **values, version=Client.version + 1, updated_at=utcnow()
            ).execution_options(synchronize_session=False)
        )
        done = cast("CursorResult[Any]", result).rowcount
        if done == 1:
            if old_limit != d.current_limit_ua:
                _audit_limit(s, d.id, old_limit, d.current_limit_ua, self.operator_id)
            return d.id
        now = s.execute(
            select(Client.version, Client.updated_at, Client.updated_by).where(Client.id == d.id)
        ).first()
        if now is None:
            raise ValueError(f"client {d.id} does not exist")
        raise StaleRecordError(
            "This client's record", d.id, now.version, now.updated_at, now.updated_by
        )


def _audit_limit(
    s: Session, client_id: int, old: float | None, new: float | None, operator_id: int | None
) -> None:
    """A client's own current limit was set or changed: an audit entry, in the save's
    transaction (the figures only: no name), naming who saved it."""
    append_audit(
        s,
        "limit_change",
        f"client:{client_id}",
        {"client_limit_ua": [old, new]},
        operator_id=operator_id,
        host=socket.gethostname(),
    )


class StaleScreeningError(StaleRecordError):
    """A screening or consent saved from a form that did not show the client's newest
    one (another room or window saved one meanwhile): refused, nothing stored — a
    conflict the saving form shows, not a failure of the records (as every
    StaleRecordError). ``current_id``, ``changed_at``, ``changed_by`` (the operator's
    name) and ``host`` (the console's computer) say what is stored now (``current_id``
    None: nothing any more)."""

    def __init__(
        self,
        what: str,
        current_id: int | None,
        changed_at: dt.datetime | None,
        changed_by: str | None,
        host: str | None = None,
    ) -> None:
        self.what = what
        self.current_id = current_id
        self.record_id = self.current_version = current_id or 0
        self.changed_at = changed_at
        self.changed_by = changed_by
        self.host = host
        if current_id is None:
            change = "was removed"
        else:
            when = (
                changed_at.astimezone().strftime("%d %b %Y at %H:%M:%S")
                if changed_at is not None
                else "meanwhile"
            )
            who = f" by {changed_by}" if changed_by else " by an operator not recorded"
            where = f" on the console on {host}" if host else ""
            change = f"was saved again on {when}{who}{where}"
        StoreError.__init__(
            self,
            f"This client's {what} {change} after this form was opened (in another room "
            "or window): your answers were not saved, and the stored one was not "
            f"overwritten. Reload to see the stored {what}, then screen again.",
        )


def _lock_client(s: Session, client_id: int) -> None:
    """PostgreSQL: lock the client's row for this transaction, so two rooms saving a
    screening or consent of one client wait for each other and the second reads the
    first's row. SQLite: nothing (the insert that follows takes the database's write
    lock before the newest row is read)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(Client.id).where(Client.id == client_id).with_for_update())


def _operator_name(s: Session, operator_id: int | None) -> str | None:
    if operator_id is None:
        return None
    return s.scalar(select(Operator.name).where(Operator.id == operator_id))


def _stale(s: Session, what: str, newest: Any) -> StaleScreeningError:
    """The refusal naming the client's newest row (id, at, operator_id, host; or None)."""
    if newest is None:
        return StaleScreeningError(what, None, None, None)
    return StaleScreeningError(
        what, newest.id, newest.at, _operator_name(s, newest.operator_id), newest.host
    )


@dataclass(frozen=True, slots=True)
class AddScreening:
    """A screening of the client, made from a form that showed the client's newest
    screening ``based_on`` (its id; None: the client had none). The writer refuses it
    (:class:`StaleScreeningError`, in the same transaction) when the client's newest
    screening is another one: a form left open never undoes a screening saved
    elsewhere. ``consent``: a consent given with it, stored in the same transaction
    (both or neither; its own ``based_on`` is checked the same way)."""

    client_id: int
    operator_id: int | None
    answers: dict[str, Any]
    screened_on: dt.date
    expires_on: dt.date
    overrides_acknowledged: tuple[str, ...]
    based_on: int | None
    questionnaire_version: int = 1
    consent: AddConsent | None = None

    @property
    def appends_audit(self) -> bool:
        """A signed consent with it appends to the audit trail."""
        return self.consent is not None and self.consent.signature is not None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        if self.consent is not None and self.consent.client_id != self.client_id:
            raise ValueError("A screening and its consent must be of the same client.")
        _lock_client(s, self.client_id)
        row = Screening(
            client_id=self.client_id,
            operator_id=self.operator_id,
            answers=dict(self.answers),
            screened_on=self.screened_on,
            expires_on=self.expires_on,
            overrides_acknowledged=list(self.overrides_acknowledged),
            questionnaire_version=self.questionnaire_version,
            host=socket.gethostname(),
        )
        s.add(row)
        s.flush()
        newest = s.execute(
            select(
                Screening.id,
                Screening.created_at.label("at"),
                Screening.operator_id,
                Screening.host,
            )
            .where(Screening.client_id == self.client_id, Screening.id != row.id)
            .order_by(Screening.id.desc())
            .limit(1)
        ).first()
        if (newest.id if newest is not None else None) != self.based_on:
            raise _stale(s, "screening", newest)
        if self.consent is not None:
            consent = self.consent
            if consent.operator_id is None:
                consent = dataclasses.replace(consent, operator_id=self.operator_id)
            consent.apply(s, st, tentative)
        return row.id


@dataclass(frozen=True, slots=True)
class AddConsent:
    """A consent: with ``signature``, signed on screen, and ``text_snapshot``, the exact
    text the client signed (both immutable once stored: app/store/models.py).
    ``based_on``: the id of the client's newest consent the form showed (None: none);
    refused (:class:`StaleScreeningError`) when the newest is another one."""

    appends_audit = True  # noqa: RUF045 - class constant: a signed consent is audited
    client_id: int
    operator_id: int | None
    text_version: str
    given_at: dt.datetime
    based_on: int | None
    text_snapshot: str | None = None
    signature: Signature | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        sig = self.signature
        if sig is not None:
            why = sig.problem()
            if why is not None:
                raise SignatureError(f"The consent cannot be recorded: {why}.")
            if not (self.text_snapshot or "").strip():
                raise ValueError(
                    "The consent cannot be recorded: the text the client signed is missing."
                )
        _lock_client(s, self.client_id)
        row = Consent(
            client_id=self.client_id,
            operator_id=self.operator_id,
            text_version=self.text_version,
            given_at=self.given_at,
            text_snapshot=self.text_snapshot,
            signature_kind=sig.kind if sig else None,
            signature=sig.to_json() if sig else None,
            signed_name=sig.name.strip() if sig else None,
            host=socket.gethostname(),
        )
        s.add(row)
        s.flush()
        newest = s.execute(
            select(Consent.id, Consent.given_at.label("at"), Consent.operator_id, Consent.host)
            .where(Consent.client_id == self.client_id, Consent.id != row.id)
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        ).first()
        if (newest.id if newest is not None else None) != self.based_on:
            raise _stale(s, "consent", newest)
        if sig is not None:
            append_audit(
                s,
                "sign_consent",
                f"client:{self.client_id}",
                {"consent": row.id, "text_version": self.text_version, "kind": sig.kind},
                operator_id=self.operator_id,
                host=socket.gethostname(),
                at=self.given_at,
            )
        return row.id


@dataclass(frozen=True, slots=True)
class WithdrawConsent:
    """The client withdraws their consent, as the form showed it: ``based_on`` is the id
    of the client's newest consent (a consent given; refused with StaleScreeningError
    when another was recorded since, or when it is itself a withdrawal). Stored as a
    consent row of its own with ``withdrawn`` (consents are never changed) and appended
    to the audit trail; the client has no consent in force until they sign again.
    Returns the withdrawal's id."""

    appends_audit = True  # noqa: RUF045 - class constant: a withdrawal is audited
    client_id: int
    operator_id: int | None
    based_on: int
    withdrawn_at: dt.datetime

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        _lock_client(s, self.client_id)
        # the consent withdrawn (its row never changes: read before the lock is fine)
        base = s.execute(
            select(Consent.text_version, Consent.given_at, Consent.withdrawn).where(
                Consent.id == self.based_on, Consent.client_id == self.client_id
            )
        ).first()
        row = None
        if base is not None:
            # inserted first: on SQLite that takes the database's write lock before the
            # newest consent is read (two rooms withdrawing at once take turns)
            row = Consent(
                client_id=self.client_id,
                operator_id=self.operator_id,
                text_version=base.text_version,
                given_at=max(self.withdrawn_at, base.given_at),  # after what it withdraws
                withdrawn=True,
                host=socket.gethostname(),
            )
            s.add(row)
            s.flush()
        newest = s.execute(
            select(Consent.id, Consent.given_at.label("at"), Consent.operator_id, Consent.host)
            .where(
                Consent.client_id == self.client_id,
                Consent.id != (row.id if row is not None else -1),
            )
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        ).first()
        if row is None or base is None or newest is None or newest.id != self.based_on:
            raise _stale(s, "consent", newest)
        if base.withdrawn:
            raise ValueError(
                "The client's consent is already withdrawn: there is none to withdraw."
            )
        append_audit(
            s,
            "withdraw_consent",
            f"client:{self.client_id}",
            {"consent": row.id, "withdraws": self.based_on, "text_version": base.text_version},
            operator_id=self.operator_id,
            host=socket.gethostname(),
            at=row.given_at,
        )
        return row.id


def _session_row(s: Session, session: int | str) -> TreatmentSession:
    where = (
        TreatmentSession.uid == session
        if isinstance(session, str)
        else TreatmentSession.id == session
    )
    row = s.scalar(select(TreatmentSession).where(where))
    if row is None:
        raise ValueError(f"Session {session} is not in the database (its client may be erased).")
    return row


def _printed_name(name: str, who: str) -> str:
    clean = name.strip()
    if not clean:
        raise ValueError(f"The {who}'s printed name is empty.")
    if len(clean) > 200 or any(ord(c) < 32 for c in clean):
        raise ValueError(f"The {who}'s printed name must be one line of at most 200 characters.")
    return clean


@dataclass(frozen=True, slots=True)
class SignSession:
    """The practitioner signs a finished session (``session``: its id or uid): printed
    name, time and meaning. ``notes``: the session's notes, stored with it before the
    signature locks it. Returns the signature's id."""

    appends_audit = True  # noqa: RUF045 - class constant
    session: int | str
    operator_id: int | None
    printed_name: str
    meaning: str
    signed_at: dt.datetime
    notes: str = ""

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        row = _session_row(s, self.session)
        if self.meaning not in SIGNATURE_MEANINGS:
            raise ValueError(f"Unknown meaning of a signature {self.meaning!r}.")
        name = _printed_name(self.printed_name, "practitioner")
        if row.outcome is None or row.ended_at is None:
            raise ValueError(
                f"Session {row.id} is not finished: only a finished session can be signed."
            )
        signed = s.scalar(
            select(SessionSignature.signed_at).where(SessionSignature.session_id == row.id)
        )
        if signed is not None:
            raise LockedRecordError(
                f"Session {row.id} was already signed on "
                f"{signed.astimezone(dt.UTC):%Y-%m-%d %H:%M UTC}: add an amendment instead."
            )
        if self.notes.strip():
            s.add(
                Note(
                    client_id=row.client_id,
                    session_id=row.id,
                    operator_id=self.operator_id,
                    created_at=self.signed_at,
                    text=self.notes.strip(),
                )
            )
            s.flush()  # before the signature: the lock then covers the notes
        sig = SessionSignature(
            session_id=row.id,
            operator_id=self.operator_id,
            printed_name=name,
            meaning=self.meaning,
            signed_at=self.signed_at,
        )
        s.add(sig)
        s.flush()
        append_audit(
            s,
            "sign_session",
            f"session:{row.id}",
            {"meaning": self.meaning, "signature": sig.id, "notes": bool(self.notes.strip())},
            operator_id=self.operator_id,
            host=socket.gethostname(),
            at=self.signed_at,
        )
        return sig.id


@dataclass(frozen=True, slots=True)
class AmendSession:
    """A dated amendment of a signed session: who (``operator_id``, ``author_name``),
    when, what (``field``: a key of AMENDABLE), the correction and why. The signed record
    stays as it was. Returns the amendment's id."""

    appends_audit = True  # noqa: RUF045 - class constant
    session: int | str
    operator_id: int | None
    author_name: str
    field: str
    text: str
    reason: str
    made_at: dt.datetime

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        row = _session_row(s, self.session)
        if self.field not in AMENDABLE:
            raise ValueError(
                f"An amendment corrects one of {', '.join(AMENDABLE)}, not {self.field!r}."
            )
        name = _printed_name(self.author_name, "amendment's author")
        if not self.text.strip():
            raise ValueError("The amendment is empty: write the correction.")
        if not self.reason.strip():
            raise ValueError("The amendment gives no reason: say why the record is corrected.")
        signed = s.scalar(select(SessionSignature.id).where(SessionSignature.session_id == row.id))
        if signed is None:
            raise ValueError(
                f"Session {row.id} is not signed yet: amendments correct a signed session."
            )
        amendment = Amendment(
            session_id=row.id,
            operator_id=self.operator_id,
            author_name=name,
            made_at=self.made_at,
            field=self.field,
            text=self.text.strip(),
            reason=self.reason.strip(),
        )
        s.add(amendment)
        s.flush()
        append_audit(
            s,
            "amend_session",
            f"session:{row.id}",
            {"amendment": amendment.id, "field": self.field},
            operator_id=self.operator_id,
            host=socket.gethostname(),
            at=self.made_at,
        )
        return amendment.id


@dataclass(frozen=True, slots=True)
class SaveComfort:
    """The intensity a client found comfortable on each of ``zones`` (replaces the last)."""

    client_id: int
    zones: tuple[str, ...]
    intensity_ua: float
    session_uid: str | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        if not (math.isfinite(self.intensity_ua) and self.intensity_ua >= 0):
            raise ValueError(f"comfortable intensity {self.intensity_ua!r} µA must be ≥ 0")
        now = utcnow()
        for zone in self.zones:
            row = s.scalar(
                select(ZoneComfort).where(
                    ZoneComfort.client_id == self.client_id, ZoneComfort.zone == zone
                )
            )
            if row is None:
                row = ZoneComfort(client_id=self.client_id, zone=zone)
                s.add(row)
            row.intensity_ua = float(self.intensity_ua)
            row.updated_at = now
            row.session_uid = self.session_uid
        s.flush()
        return len(self.zones)


@dataclass(frozen=True, slots=True)
class AddNote:
    client_id: int
    text: str
    operator_id: int | None = None
    session_uid: str | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        sid = st.session_id(s, self.session_uid, tentative) if self.session_uid else None
        row = Note(
            client_id=self.client_id,
            text=self.text,
            operator_id=self.operator_id,
            session_id=sid,
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
        return row.id


@dataclass(frozen=True, slots=True)
class AddServiceRecord:
    kind: ServiceKind
    device_serial: str
    firmware: str
    passed: bool | None
    payload: dict[str, Any]
    at: dt.datetime
    operator_id: int | None = None

    def apply(self, s: Session, st: _State, tentative: dict[str, int]) -> int:
        row = ServiceRecord(
            kind=self.kind,
            device_serial=self.device_serial,
            firmware=self.firmware,
            passed=self.passed,
            payload=dict(self.payload),
            at=self.at,
            operator_id=self.operator_id,
        )
        s.add(row)
        s.flush()
        return row.id


@dataclass(slots=True)
class _Flush:
    pass


@dataclass(slots=True)
class _Close:
    pass


@dataclass(slots=True)
class _Pending:
    request: Any
    future: Future = field(default_factory=Future)


# ---------------------------------------------------------------- the writer

_NAMES_OPERATOR: dict[type, bool] = {}


def _names_operator(kind: type) -> bool:
    """``kind`` is a request with an ``operator_id`` the signed-in operator fills."""
    known = _NAMES_OPERATOR.get(kind)
    if known is None:
        known = dataclasses.is_dataclass(kind) and any(
            f.name == "operator_id" for f in dataclasses.fields(kind)
        )
        _NAMES_OPERATOR[kind] = known
    return known


class StoreWriter:
    """The single writer thread of the store (see the module docstring).

    ``on_error(message)`` is called from the writer thread with an operator-readable
    message; with Qt, pass a signal's ``emit`` (a queued connection reaches the GUI).
    """

    def __init__(
        self,
        engine: Engine,
        on_error: Callable[[str], None] | None = None,
        *,
        chunk_seconds: float = recording.CHUNK_SECONDS,
        retry_s: float = 1.0,
    ) -> None:
        self._engine = engine
        self._on_error = on_error
        self._listeners: list[Callable[[str], None]] = []
        self._commit_listeners: list[Callable[[list[Any]], None]] = []
        self._chunk_seconds = chunk_seconds
        self._retry_s = retry_s
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._abort = threading.Event()
        self._closed = False
        self._state = _State()
        self._chunkers: dict[str, recording.Chunker] = {}
        self._chunker_since: dict[str, float] = {}
        self._last_error: str | None = None
        self._open: set[str] = set()  # sessions begun and not ended (writer thread only)
        self._lost: set[str] = set()  # sessions whose rows are gone (their client erased)
        self.refused = 0  # requests that failed alone (their future has the exception)
        self._next_heartbeat = 0.0
        # who is signed in (app.store.operators.OperatorContext): requests naming nobody
        # are recorded with them
        self.operators: Any = None
        self._thread = threading.Thread(target=self._run, name="StoreWriter", daemon=True)
        self._thread.start()

    # -- submitting (any thread; never blocks)

    def submit(self, request: Any) -> Future:
        """Queue ``request``. One that names no operator (``operator_id`` None) is
        recorded with the operator signed in (``self.operators``, app/store/operators.py)."""
        request = self._with_operator(request)
        item = _Pending(request)
        if self._closed:
            item.future.set_exception(RuntimeError("the store writer is closed"))
            return item.future
        self._queue.put(item)
        return item.future

    def _with_operator(self, request: Any) -> Any:
        ctx = self.operators
        if (
            ctx is None
            or not _names_operator(type(request))
            or request.operator_id is not None
            or not getattr(request, "fills_operator", True)
        ):
            return request
        who = ctx.current_id
        return request if who is None else dataclasses.replace(request, operator_id=who)

    def begin_session(
        self,
        client_id: int,
        *,
        operator_id: int | None = None,
        program: str = "",
        device_serial: str = "",
        firmware: str = "",
        training: bool | None = None,
        started_at: dt.datetime | None = None,
        uid: str | None = None,
    ) -> str:
        """Queue the start of a session; returns its uid for the following requests."""
        uid = uid or str(uuid.uuid4())
        self.submit(
            BeginSession(
                uid,
                client_id,
                operator_id,
                program,
                device_serial,
                firmware,
                started_at or utcnow(),
                training,
            )
        )
        return uid

    def add_event(
        self,
        session_uid: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        timestamp: dt.datetime | None = None,
    ) -> Future:
        return self.submit(AddEvent(session_uid, kind, dict(payload or {}), timestamp or utcnow()))

    def add_step(
        self,
        session_uid: str,
        position: int,
        zone: str,
        parameters: dict[str, Any],
        planned_s: float,
        actual_s: float,
        *,
        charge_uc: float | None = None,
        mean_current_ua: float | None = None,
        mean_impedance_ohm: float | None = None,
        charge_abs_uc: float | None = None,
    ) -> Future:
        """``charge_uc``: the net charge; ``charge_abs_uc``: the total absolute charge."""
        return self.submit(
            AddStep(
                session_uid,
                position,
                zone,
                dict(parameters),
                planned_s,
                actual_s,
                charge_uc,
                mean_current_ua,
                mean_impedance_ohm,
                charge_abs_uc,
            )
        )

    def update_step(
        self,
        session_uid: str,
        position: int,
        parameters: dict[str, Any],
        actual_s: float,
        *,
        charge_uc: float | None = None,
        mean_current_ua: float | None = None,
        mean_impedance_ohm: float | None = None,
        charge_abs_uc: float | None = None,
    ) -> Future:
        """New totals for the step at ``position`` added last in the session."""
        return self.submit(
            UpdateStep(
                session_uid,
                position,
                dict(parameters),
                actual_s,
                charge_uc,
                mean_current_ua,
                mean_impedance_ohm,
                charge_abs_uc,
            )
        )

    def add_samples(self, session_uid: str, block: SampleBlock) -> Future:
        """Record a sample block (current and voltage) of a running session."""
        return self.submit(
            AddSamples(
                session_uid, block.first_index, block.sample_rate, block.current_ua, block.voltage_v
            )
        )

    def add_sample_arrays(
        self,
        session_uid: str,
        first_index: int,
        sample_rate: float,
        current_ua: np.ndarray,
        voltage_v: np.ndarray,
    ) -> Future:
        return self.submit(
            AddSamples(
                session_uid,
                first_index,
                sample_rate,
                np.asarray(current_ua, dtype=np.float32).copy(),
                np.asarray(voltage_v, dtype=np.float32).copy(),
            )
        )

    def end_session(
        self, session_uid: str, outcome: Outcome | str, ended_at: dt.datetime | None = None
    ) -> Future:
        return self.submit(EndSession(session_uid, Outcome(outcome), ended_at or utcnow()))

    def save_client(self, data: ClientData) -> Future:
        """Insert (``data.id is None``) or update a client; the future gives its id."""
        return self.submit(SaveClient(data))

    def add_screening(
        self,
        client_id: int,
        answers: dict[str, Any],
        screened_on: dt.date,
        expires_on: dt.date,
        overrides_acknowledged: tuple[str, ...] = (),
        operator_id: int | None = None,
        questionnaire_version: int = 1,
        *,
        based_on: int | None,
        consent: AddConsent | None = None,
    ) -> Future:
        """A screening made from a form that showed the client's newest screening
        ``based_on`` (None: the client had none); refused with StaleScreeningError when
        another was saved since. ``consent`` (:meth:`consent_request`): a consent given
        with it, stored in the same transaction. The future gives the screening's id."""
        return self.submit(
            AddScreening(
                client_id,
                operator_id,
                dict(answers),
                screened_on,
                expires_on,
                tuple(overrides_acknowledged),
                based_on,
                questionnaire_version,
                consent,
            )
        )

    @staticmethod
    def consent_request(
        client_id: int,
        text_version: str,
        operator_id: int | None = None,
        given_at: dt.datetime | None = None,
        *,
        based_on: int | None,
        text_snapshot: str | None = None,
        signature: Signature | None = None,
    ) -> AddConsent:
        """A consent to store (with :meth:`add_screening`, or alone: :meth:`add_consent`);
        ``based_on``: the client's newest consent the form showed (None: none). An
        unusable signature raises SignatureError at once."""
        if signature is not None:
            why = signature.problem()
            if why is not None:
                raise SignatureError(f"The consent cannot be recorded: {why}.")
        return AddConsent(
            client_id,
            operator_id,
            text_version,
            given_at or utcnow(),
            based_on,
            text_snapshot,
            signature,
        )

    def add_consent(
        self,
        client_id: int,
        text_version: str,
        operator_id: int | None = None,
        given_at: dt.datetime | None = None,
        *,
        based_on: int | None,
        text_snapshot: str | None = None,
        signature: Signature | None = None,
    ) -> Future:
        """A consent; signed on screen with ``signature`` and ``text_snapshot`` (the exact
        text signed). ``based_on``: the client's newest consent the form showed (None:
        none); refused with StaleScreeningError when another was recorded since. An
        unusable signature raises SignatureError at once."""
        return self.submit(
            self.consent_request(
                client_id,
                text_version,
                operator_id,
                given_at,
                based_on=based_on,
                text_snapshot=text_snapshot,
                signature=signature,
            )
        )

    def withdraw_consent(
        self,
        client_id: int,
        *,
        based_on: int,
        operator_id: int | None = None,
        withdrawn_at: dt.datetime | None = None,
    ) -> Future:
        """The client withdraws the consent ``based_on`` (their newest, as shown); refused
        with StaleScreeningError when another was recorded since. The future gives the
        withdrawal's id."""
        return self.submit(
            WithdrawConsent(client_id, operator_id, based_on, withdrawn_at or utcnow())
        )

    def sign_session(
        self,
        session: int | str,
        operator_id: int | None,
        printed_name: str,
        *,
        meaning: str = "performed",
        notes: str = "",
        signed_at: dt.datetime | None = None,
    ) -> Future:
        """Sign a finished session (its id or uid) as ``printed_name`` (the operator
        ``operator_id``); it is locked from then on. The future gives the signature id."""
        return self.submit(
            SignSession(session, operator_id, printed_name, meaning, signed_at or utcnow(), notes)
        )

    def amend_session(
        self,
        session: int | str,
        operator_id: int | None,
        author_name: str,
        field: str,
        text: str,
        reason: str,
        made_at: dt.datetime | None = None,
    ) -> Future:
        """A dated amendment of a signed session; the future gives its id."""
        return self.submit(
            AmendSession(
                session, operator_id, author_name, field, text, reason, made_at or utcnow()
            )
        )

    def save_comfort(
        self,
        client_id: int,
        zones: tuple[str, ...],
        intensity_ua: float,
        session_uid: str | None = None,
    ) -> Future:
        """Remember ``intensity_ua`` as the client's comfortable level on ``zones``."""
        return self.submit(SaveComfort(client_id, tuple(zones), float(intensity_ua), session_uid))

    def add_note(
        self,
        client_id: int,
        text: str,
        operator_id: int | None = None,
        session_uid: str | None = None,
    ) -> Future:
        return self.submit(AddNote(client_id, text, operator_id, session_uid))

    def add_service_record(
        self,
        kind: ServiceKind | str,
        payload: dict[str, Any],
        *,
        device_serial: str = "",
        firmware: str = "",
        passed: bool | None = None,
        at: dt.datetime | None = None,
        operator_id: int | None = None,
    ) -> Future:
        """Record a calibration, self-test or watchdog test (``payload``: the result's
        ``as_dict()``, JSON-serialisable); the future gives the record's id. An unknown
        ``kind`` raises ValueError at once."""
        try:
            kind = ServiceKind(kind)
        except ValueError:
            raise ValueError(
                f"unknown service record kind {kind!r}: use one of "
                f"{', '.join(k.value for k in ServiceKind)}"
            ) from None
        clean = _json_safe(payload)
        try:
            json.dumps(clean, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the {kind.label.lower()} result cannot be recorded: {exc}") from None
        return self.submit(
            AddServiceRecord(
                kind, device_serial, firmware, passed, clean, at or utcnow(), operator_id
            )
        )

    def audit(
        self,
        action: str,
        subject: str = "",
        details: dict[str, Any] | None = None,
        operator_id: int | None = None,
    ) -> Future:
        """Append an entry to the audit trail (app/store/audit.py); the future gives its id.
        ``details`` must hold no personal data (ids, counts, formats only)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        return self.submit(
            AppendAudit(action, subject, _json_safe(dict(details or {})), operator_id)
        )

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Write everything queued so far, partial recording chunks included.

        Blocks the caller up to ``timeout``: for shutdown and tests, not the GUI.
        """
        fut = self.submit(_Flush())
        try:
            fut.result(timeout)
            return True
        except Exception:  # noqa: BLE001 - timeout or closed
            return False

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued, then stop the thread. False if some writes were lost."""
        if not self._closed:
            self._closed = True
            self._queue.put(_Pending(_Close()))
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(timeout)
        return not self._abort.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- the thread

    def _report(self, message: str) -> None:
        if message == self._last_error:
            return
        self._last_error = message
        log.error("store writer: %s", message)
        for callback in [self._on_error, *self._listeners]:
            if callback is None:
                continue
            try:
                callback(message)
            except Exception:  # noqa: BLE001 - a broken callback must not stop the writer
                log.exception("store writer: error callback failed")

    def add_error_listener(self, callback: Callable[[str], None]) -> None:
        """Also call ``callback(message)`` (from the writer thread) on each new problem;
        with Qt, pass a signal's ``emit``: a queued connection reaches the GUI thread."""
        self._listeners.append(callback)

    def add_commit_listener(self, callback: Callable[[list[Any]], None]) -> None:
        """Call ``callback(requests)`` (from the writer thread) after each commit, with the
        requests it stored: views and watches learn of this room's writes at once."""
        self._commit_listeners.append(callback)

    def _committed(self, requests: list[Any]) -> None:
        for callback in self._commit_listeners:
            try:
                callback(requests)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the writer
                log.exception("store writer: commit listener failed")

    def _run(self) -> None:
        """The thread: never dies of one bad request (last resort: report and go on)."""
        name_os_thread()
        while True:
            try:
                self._loop()
                return
            except Exception as exc:  # noqa: BLE001 - the writer must keep writing
                log.exception("store writer: unexpected error")
                self.refused += 1
                self._report(
                    f"The records writer met an unexpected problem "
                    f"({type(exc).__name__}); some records may not have been "
                    "stored. Recording goes on; the details are in the log."
                )
                if self._closed and self._queue.empty():
                    return
                time.sleep(0.1)  # never a hot loop

    def _loop(self) -> None:
        pending: list[_Pending] = []
        closing = False
        while True:
            if self._chunkers:
                timeout: float | None = 0.25
            elif self._open:
                timeout = max(0.05, self._next_heartbeat - time.monotonic())
            else:
                timeout = None
            try:
                item = (
                    self._queue.get(timeout=timeout) if not pending else (self._queue.get_nowait())
                )
            except queue.Empty:
                item = None
            budget_end = time.monotonic() + 0.25
            while item is not None:
                req = item.request
                if isinstance(req, _Close):
                    closing = True
                    item.future.set_result(None)
                elif isinstance(req, _Flush):
                    pending.extend(self._flush_chunkers(all_=True))
                    pending.append(item)
                elif getattr(req, "session_uid", None) in self._lost:
                    self._refuse(
                        item,
                        ValueError(
                            f"session {req.session_uid} is not in the database (its client "
                            "may have been erased)"
                        ),
                        report=False,
                    )
                elif isinstance(req, AddSamples):
                    try:
                        pending.extend(self._chunk(req))
                    except Exception as exc:  # noqa: BLE001 - bad samples fail alone
                        self._refuse(item, exc)
                    else:
                        item.future.set_result(None)
                else:
                    if isinstance(req, EndSession):
                        pending.extend(self._flush_chunkers(only=req.session_uid))
                        self._open.discard(req.session_uid)
                    elif isinstance(req, BeginSession):
                        if not self._open:
                            self._next_heartbeat = time.monotonic() + HEARTBEAT_S
                        self._open.add(req.uid)
                    pending.append(item)
                if closing or time.monotonic() > budget_end:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            pending.extend(self._flush_chunkers(all_=closing))
            if self._open and (closing or time.monotonic() >= self._next_heartbeat):
                # closing with sessions not ended: clear their heartbeat, so the next start
                # marks them interrupted at once
                pending.append(_Pending(Heartbeat(tuple(self._open), alive=not closing)))
                self._next_heartbeat = time.monotonic() + HEARTBEAT_S
                if closing:
                    self._open.clear()
            if len(pending) > MAX_PENDING:
                pending = self._shed(pending)
            if pending:
                pending = self._commit(pending)
                if pending:  # database unavailable: wait, then retry
                    if self._abort.wait(self._retry_s):
                        self._fail_all(pending, "closing: the database stayed unavailable")
                        return
                    continue
            if closing:
                return

    def _chunk(self, req: AddSamples) -> list[_Pending]:
        ch = self._chunkers.get(req.session_uid)
        if ch is None:
            ch = self._chunkers[req.session_uid] = recording.Chunker(self._chunk_seconds)
        if ch.pending == 0:
            self._chunker_since[req.session_uid] = time.monotonic()
        chunks = ch.feed(req.first_index, req.sample_rate, req.current_ua, req.voltage_v)
        if chunks:
            self._chunker_since[req.session_uid] = time.monotonic()
        return [self._chunk_request(req.session_uid, c) for c in chunks]

    def _chunk_request(self, uid: str, chunk: recording.Chunk) -> _Pending:
        index = self._state.next_chunk.get(uid, 0)
        self._state.next_chunk[uid] = index + 1
        return _Pending(WriteChunk(uid, index, chunk))

    def _flush_chunkers(self, all_: bool = False, only: str | None = None) -> list[_Pending]:
        """Partial chunks: all, one session's, or those holding data older than a chunk."""
        out: list[_Pending] = []
        now = time.monotonic()
        for uid in list(self._chunkers):
            ch = self._chunkers[uid]
            due = (
                all_
                or uid == only
                or (
                    only is None
                    and ch.pending
                    and now - self._chunker_since.get(uid, now) >= self._chunk_seconds
                )
            )
            if due:
                out.extend(self._chunk_request(uid, c) for c in ch.flush())
                self._chunker_since[uid] = now
            if uid == only or (all_ and not ch.pending):
                del self._chunkers[uid]
        return out

    def _shed(self, pending: list[_Pending]) -> list[_Pending]:
        kept = [p for p in pending if not isinstance(p.request, WriteChunk)]
        dropped = len(pending) - len(kept)
        self._report(
            f"The database has been unavailable for too long: {dropped} recording "
            "chunks were dropped to keep the session's events."
        )
        for p in pending:
            if isinstance(p.request, WriteChunk):
                p.future.set_exception(RuntimeError("dropped: database unavailable"))
        return kept

    def _fail_all(self, pending: list[_Pending], why: str) -> None:
        self._report(f"{len(pending)} record(s) could not be written ({why}).")
        for p in pending:
            if not p.future.done():
                p.future.set_exception(RuntimeError(why))

    def _apply_batch(self, batch: list[_Pending]) -> list[Any]:
        tentative: dict[str, int] = {}
        results = []
        with Session(self._engine, expire_on_commit=False) as s:
            if self._engine.dialect.name == "postgresql" and any(
                getattr(p.request, "appends_audit", False) for p in batch
            ):
                # the audit trail's lock first, before any row lock of this batch: two
                # rooms then always take their locks in the same order (no deadlock)
                lock_audit_trail(s)
            for p in batch:
                req = p.request
                results.append(
                    None if isinstance(req, _Flush) else req.apply(s, self._state, tentative)
                )
            s.commit()
        self._state.session_ids.update(tentative)
        return results

    def _commit(self, pending: list[_Pending]) -> list[_Pending]:
        """Commit ``pending``; returns what must be retried (database unavailable)."""
        try:
            results = self._apply_batch(pending)
        except OperationalError as exc:
            self._report(describe_error(exc, self._engine.url))
            return pending
        except Exception as exc:  # noqa: BLE001 - a bad request fails alone, others go on
            if len(pending) == 1:
                self._refuse(pending[0], exc)
                return []
            retry: list[_Pending] = []
            for i, p in enumerate(pending):  # isolate the bad request(s)
                left = self._commit([p])
                if left:
                    return left + pending[i + 1 :] + retry
            return retry
        if self._last_error is not None:
            log.info("store writer: database available again")
            self._last_error = None
        for p, r in zip(pending, results, strict=True):
            if not p.future.done():
                p.future.set_result(r)
        if self._commit_listeners:
            self._committed([p.request for p in pending])
        return []

    def _session_exists(self, uid: str) -> bool:
        """Whether session ``uid`` still has its row (a constraint error on one of its
        requests may mean its client was erased, or only that this request was bad)."""
        try:
            with Session(self._engine) as s:
                return (
                    s.scalar(select(TreatmentSession.id).where(TreatmentSession.uid == uid))
                    is not None
                )
        except SQLAlchemyError:
            return True  # cannot tell: keep recording it

    def _refuse(self, p: _Pending, exc: BaseException, report: bool = True) -> None:
        """``p`` failed on its own: its future gets the exception (a StoreError in plain
        words for a database error; the detail goes to the log), the error listeners are
        told what could not be stored, and the writer goes on with the other requests."""
        req = p.request
        what = _WHAT.get(type(req).__name__, "A record")
        uid: str | None = getattr(req, "session_uid", None)
        gone = uid is not None and (
            "is not in the database" in str(exc)
            or (isinstance(exc, IntegrityError) and not self._session_exists(uid))
        )
        if gone:
            detail = (
                str(exc)
                if isinstance(exc, ValueError)
                else "the session is no longer in the database (its client may have been erased)"
            )
            msg = f"{detail}; the rest of this session is not recorded, other records are"
            err: BaseException = (
                exc
                if isinstance(exc, ValueError)
                else StoreError(f"{what} could not be stored: {msg}.")
            )
            assert uid is not None  # (gone implies it)
            if uid not in self._lost:
                self._lost.add(uid)
                self._open.discard(uid)
                self._chunkers.pop(uid, None)
            else:
                report = False
        elif isinstance(exc, StoreError):  # in words already (e.g. a stale version)
            msg = str(exc)
            err = exc
        elif isinstance(exc, SQLAlchemyError):
            msg = describe_error(exc, self._engine.url)
            err = StoreError(f"{what} could not be stored: {msg}")
        elif isinstance(exc, ValueError | TypeError):
            msg = str(exc)
            err = exc
        else:
            log.error("store writer: %s refused", type(req).__name__, exc_info=exc)
            msg = f"an unexpected problem ({type(exc).__name__}); the details are in the log"
            err = exc
        if err is not exc:
            err.__cause__ = exc
        if isinstance(exc, StaleRecordError) or (
            getattr(req, "quiet_refusal", False) and not isinstance(exc, SQLAlchemyError)
        ):
            # refused on its merits (a record another room changed first, a stale
            # clinic-settings version, a PIN set-up on a store that had one): the caller
            # shows why. Not a failure of the records: no alarm, and output is not stopped
            report = False
        else:
            self.refused += 1
        if report:
            self._report(f"{what} could not be stored: {msg}")
        if not p.future.done():
            p.future.set_exception(err)


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN; PostgreSQL refuses it),
    tuples as lists and numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def count_rows(engine: Engine, model: Any, **where: Any) -> int:
    """Row count helper for tests and diagnostics."""
    with Session(engine) as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(s.scalar(q) or 0)
