"""Secrets (PINs and passphrases): salted scrypt hashes kept in the store, wrong ones
rate-limited. One rule, one place: the operators' sign-in secrets
(:class:`OperatorSecretBackend`, ``app.store.operators``) and the older clinic-wide
technician PIN (:class:`StorePinBackend`) are hashed, checked, counted and locked out by
the same :class:`PinGuard`.

Only the hash (with its salt and parameters), a flag that a PIN was ever set and the
count of wrong PINs in a row are stored — never the PIN — in the store's clinic row,
shared by every room (``app.store.clinic``). Storage is a :class:`PinBackend`:
:class:`StorePinBackend` over the store (reads from the clinic watch, writes through the
store's writer), :class:`MemoryPinBackend` for tests.

Every attempt is counted in the store before the PIN is checked: an attempt whose count
cannot be recorded (an unwritable store) is never checked, so no restart gives fresh
tries. A missing PIN offers a set-up only on a store that never had one; otherwise the
recovery is ``python -m app db reset-pin`` (recorded as a service record).

The lockout: none for the first :data:`FREE_ATTEMPTS` wrong PINs in a row, then
:func:`lockout_s` (doubling, at most 15 minutes) — measured on this process's *monotonic*
clock from the moment it first saw that count, and derived from the stored count, not
from any stored time. Moving the wall clock (of this machine or the database server)
forward or back changes nothing; a restart (or another room) starts the wait again in
full, so it can only lengthen a lockout, never lift it. (A lock-until on the database's
own clock was the alternative; on SQLite that clock is this machine's wall clock, which
can be set forward.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.format import duration

MIN_LENGTH = 4
MAX_LENGTH = 12
FREE_ATTEMPTS = 3  # wrong PINs in a row before the first lockout
FIRST_LOCKOUT_S = 30.0  # doubled at each further wrong PIN ...
MAX_LOCKOUT_S = 900.0  # ... up to 15 minutes
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
SCHEME = "scrypt"
RESET_PIN_COMMAND = "python -m app db reset-pin"
WAIT_S = 5.0  # the blocking helpers wait this long for the store (headless use, tests)


@dataclass(frozen=True, slots=True)
class PinState:
    """What the store says about the PIN (``version`` changes at each set/change/reset)."""

    hash: str | None
    ever_set: bool
    failures: int
    version: int = 0


class PinBackend(Protocol):
    def state(self) -> PinState | None:
        """The latest known state (None: not read from the store yet)."""
        ...

    def count_attempt(self) -> Future:
        """Count one attempt in the store; the future gives the PinState after it."""
        ...

    def clear_failures(self) -> Future: ...

    def store_hash(self, pin_hash: str, *, first: bool, after_version: int | None) -> Future: ...


def _done(value: Any = None, exc: BaseException | None = None) -> Future:
    f: Future = Future()
    if exc is not None:
        f.set_exception(exc)
    else:
        f.set_result(value)
    return f


class MemoryPinBackend:
    """The PIN state in memory (tests). ``writable=False`` acts as an unwritable store:
    every write fails."""

    def __init__(self, state: PinState | None = None) -> None:
        self.current: PinState | None = state or PinState(None, False, 0)
        self.writable = True

    def state(self) -> PinState | None:
        return self.current

    def _write(self, new: PinState) -> Future:
        if not self.writable:
            return _done(exc=OSError("the store is read-only"))
        self.current = new
        return _done(new)

    def count_attempt(self) -> Future:
        s = self.current
        if s is None or not s.hash:
            return _done(exc=ValueError("no technician PIN is stored"))
        return self._write(replace(s, failures=s.failures + 1))

    def clear_failures(self) -> Future:
        assert self.current is not None
        return self._write(replace(self.current, failures=0))

    def store_hash(self, pin_hash: str, *, first: bool, after_version: int | None) -> Future:
        s = self.current or PinState(None, False, 0)
        if first and (s.hash or s.ever_set):
            return _done(exc=ValueError("a technician PIN has already been set"))
        return self._write(PinState(pin_hash, True, 0, s.version + 1))


class StorePinBackend:
    """The PIN in the store: ``update(record)`` with each ClinicRecord the clinic watch
    reads (GUI thread); writes are requests to the store's writer (never waited on here)."""

    def __init__(self, writer: Any, operator_id: int | None = None) -> None:
        self._writer = writer
        self._operator_id = operator_id
        self._state: PinState | None = None

    def set_writer(self, writer: Any, operator_id: int | None = None) -> None:
        self._writer = writer
        self._operator_id = operator_id

    def update(self, record: Any) -> None:
        self._state = PinState(
            record.pin_hash,
            bool(record.pin_ever_set),
            int(record.pin_failures),
            int(record.pin_version),
        )

    def state(self) -> PinState | None:
        return self._state

    def _then(self, fut: Future | None, convert: Callable[[Any], Any]) -> Future:
        out: Future = Future()
        if fut is None:
            out.set_exception(RuntimeError("the client records are not open"))
            return out

        def done(f: Future) -> None:
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            try:
                out.set_result(convert(f.result()))
            except Exception as e:  # noqa: BLE001 - handed to the waiter
                out.set_exception(e)

        fut.add_done_callback(done)
        return out

    def _submit(self, request: Any) -> Future | None:
        return None if self._writer is None else self._writer.submit(request)

    def count_attempt(self) -> Future:
        from app.store.clinic import CountPinAttempt

        def convert(record: Any) -> PinState:
            self.update(record)
            return self._state  # type: ignore[return-value]

        return self._then(self._submit(CountPinAttempt()), convert)

    def clear_failures(self) -> Future:
        from app.store.clinic import ClearPinFailures

        def convert(_: Any) -> None:
            if self._state is not None:
                self._state = replace(self._state, failures=0)

        return self._then(self._submit(ClearPinFailures()), convert)

    def note_sign_in(self, ok: bool, failures: int) -> None:
        """A PIN check's result, for the audit trail (no PIN, no hash: the outcome and
        the count of wrong PINs in a row). Never waited on."""
        if self._writer is None:
            return
        self._writer.audit(
            "sign_in" if ok else "sign_in_failed",
            "bench",
            {"via": "technician PIN", "failures_in_a_row": failures},
            operator_id=self._operator_id,
        )

    def store_hash(self, pin_hash: str, *, first: bool, after_version: int | None) -> Future:
        from app.store.clinic import SetPinHash

        def convert(version: Any) -> None:
            self._state = PinState(pin_hash, True, 0, int(version))

        return self._then(
            self._submit(SetPinHash(pin_hash, first, after_version, self._operator_id)), convert
        )


RESET_SECRET_COMMAND = "python -m app db operators reset-secret NAME"


class OperatorSecretBackend:
    """One operator's secret in the store (``app.store.operators``): the same counting,
    checking and lockout as the technician PIN, per operator. ``record`` is the
    operator's :class:`~app.store.operators.OperatorRecord` as last read; writes go
    through the store's writer (never waited on here)."""

    def __init__(self, writer: Any, record: Any) -> None:
        self._writer = writer
        self.record = record
        self._state: PinState | None = self._from(record)

    @staticmethod
    def _from(record: Any) -> PinState | None:
        if record is None:
            return None
        # ever_set: an operator's secret is never chosen without signing in, so a
        # missing one is reset by a manager (or db operators reset-secret)
        return PinState(record.secret_hash, True, record.failures, record.secret_version)

    def update(self, record: Any) -> None:
        self.record = record
        self._state = self._from(record)

    def state(self) -> PinState | None:
        return self._state

    def _then(self, fut: Future, convert: Callable[[Any], Any]) -> Future:
        out: Future = Future()

        def done(f: Future) -> None:
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
                return
            try:
                out.set_result(convert(f.result()))
            except Exception as e:  # noqa: BLE001 - handed to the waiter
                out.set_exception(e)

        fut.add_done_callback(done)
        return out

    def count_attempt(self) -> Future:
        from app.store.operators import CountSignIn

        def convert(record: Any) -> PinState:
            self.update(record)
            return self._state  # type: ignore[return-value]

        return self._then(self._writer.submit(CountSignIn(self.record.id)), convert)

    def clear_failures(self) -> Future:
        from app.store.operators import ClearSignInFailures

        def convert(_: Any) -> None:
            if self._state is not None:
                self._state = replace(self._state, failures=0)

        return self._then(self._writer.submit(ClearSignInFailures(self.record.id)), convert)

    def note_sign_in(self, ok: bool, failures: int) -> None:
        """The sign-in's outcome for the audit trail, naming the operator (no secret)."""
        self._writer.audit(
            "sign_in" if ok else "sign_in_failed",
            f"operator:{self.record.id}",
            {"role": str(self.record.role), "failures_in_a_row": failures},
            operator_id=self.record.id,
        )

    def store_hash(self, pin_hash: str, *, first: bool, after_version: int | None) -> Future:
        from app.store.operators import SetOperatorSecret

        def convert(version: Any) -> None:
            self._state = PinState(pin_hash, True, 0, int(version))

        return self._then(
            self._writer.submit(
                SetOperatorSecret(self.record.id, pin_hash, after_version, self.record.id)
            ),
            convert,
        )


def operator_guard(
    writer: Any, record: Any, clock: Callable[[], float] = time.monotonic
) -> PinGuard:
    """The guard of one operator's secret (sign-in, lock screen, change of secret)."""
    return PinGuard(
        OperatorSecretBackend(writer, record),
        clock,
        what=f"secret of {record.name}",
        noun="PIN or passphrase",
        nouns="PINs or passphrases",
        reset_command=RESET_SECRET_COMMAND.replace("NAME", repr(record.name)),
        passphrase=True,
    )


class PinError(ValueError):
    """A PIN that cannot be set (format, or the current PIN did not match)."""


@dataclass(frozen=True, slots=True)
class PinCheck:
    ok: bool
    message: str
    locked_for_s: float = 0.0  # > 0: no PIN is checked for this long


SECRET_MIN_LENGTH = 4
SECRET_MAX_LENGTH = 64


def check_format(pin: str, *, passphrase: bool = False) -> str | None:
    """Why ``pin`` is not an acceptable PIN, or None. ``passphrase``: an operator's
    secret, which may also be a passphrase (any printable characters)."""
    if passphrase:
        if any(ord(c) < 32 or ord(c) == 127 for c in pin):
            return "the PIN or passphrase contains a control character"
        if not SECRET_MIN_LENGTH <= len(pin) <= SECRET_MAX_LENGTH:
            return (
                f"the PIN or passphrase must have {SECRET_MIN_LENGTH} to "
                f"{SECRET_MAX_LENGTH} characters"
            )
        return None
    if not pin.isascii() or not pin.isdigit():
        return "the PIN must contain digits only"
    if not MIN_LENGTH <= len(pin) <= MAX_LENGTH:
        return f"the PIN must have {MIN_LENGTH} to {MAX_LENGTH} digits"
    return None


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) for ``pin`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_hash(pin: str, stored: str) -> bool:
    """Constant-time check of ``pin`` against a stored ``hash_pin`` string."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != SCHEME:
            return False
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        digest = hashlib.scrypt(
            pin.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def lockout_s(failures: int) -> float:
    """Lockout after ``failures`` wrong PINs in a row: none for the first few, then doubling."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return min(MAX_LOCKOUT_S, FIRST_LOCKOUT_S * 2.0 ** (failures - FREE_ATTEMPTS))


class PinGuard:
    """Sets and checks the technician PIN over ``backend``; ``clock`` is a monotonic clock
    (time.monotonic): the lockout never reads the wall clock (see the module docstring)."""

    def __init__(
        self,
        backend: PinBackend,
        clock: Callable[[], float] = time.monotonic,
        *,
        what: str = "technician PIN",
        noun: str = "PIN",
        reset_command: str = RESET_PIN_COMMAND,
        passphrase: bool = False,
        nouns: str | None = None,
    ) -> None:
        """``what`` names the secret in messages ("technician PIN", "Ann's PIN"),
        ``noun`` a single try ("PIN"), ``reset_command`` the recovery; ``passphrase``: the
        secret may be a passphrase (:func:`check_format`)."""
        self.backend = backend
        self._clock = clock
        self.what = what
        self.noun = noun
        self.nouns = nouns or f"{noun}s"  # "too many wrong PINs or passphrases"
        self.reset_command = reset_command
        self.passphrase = passphrase
        self._lock_key: tuple[int, int] | None = None
        self._lock_since = 0.0
        self._counted_from = 0  # wrong tries in a row known when the last attempt was counted

    @property
    def state(self) -> PinState | None:
        return self.backend.state()

    @property
    def known(self) -> bool:
        return self.state is not None

    @property
    def is_set(self) -> bool:
        s = self.state
        return bool(s and s.hash)

    @property
    def setup_allowed(self) -> bool:
        """A new PIN may be chosen without the current one: the store never had one."""
        s = self.state
        return s is not None and not s.hash and not s.ever_set

    @property
    def missing(self) -> bool:
        """A PIN was set but its hash is gone: only ``db reset-pin`` helps."""
        s = self.state
        return s is not None and not s.hash and s.ever_set

    @property
    def failures(self) -> int:
        s = self.state
        return max(0, s.failures) if s is not None else 0

    def locked_for_s(self) -> float:
        """Seconds until a PIN may be tried again (0 when not locked)."""
        s = self.state
        if s is None:
            return 0.0
        need = lockout_s(s.failures)
        if need <= 0:
            self._lock_key = None
            return 0.0
        now = self._clock()
        key = (s.failures, s.version)
        if self._lock_key != key:  # a new count (here, another room, or a restart)
            self._lock_key, self._lock_since = key, now
        return max(0.0, need - max(0.0, now - self._lock_since))

    def refusal(self) -> PinCheck | None:
        """Why no PIN may be tried now (None: an attempt may be counted)."""
        if not self.known:
            return PinCheck(
                False, f"the {self.what} is kept in the client records, which are not open yet"
            )
        if self.missing:
            return PinCheck(
                False,
                f"the {self.what} is missing from the records: a new one "
                f"can only be set after '{self.reset_command}'",
            )
        if not self.is_set:
            return PinCheck(False, f"no {self.what} has been set yet")
        wait = self.locked_for_s()
        if wait > 0:
            return PinCheck(
                False, f"too many wrong {self.nouns}: try again in {duration(wait)}", wait
            )
        return None

    def count_attempt(self) -> Future:
        """Step 1 of a check: count the attempt in the store (PinState after it). (The
        wrong tries in a row this guard knew of, and judged the lockout on, are noted.)"""
        self._counted_from = self.failures
        return self.backend.count_attempt()

    def check(self, pin: str, counted: PinState) -> PinCheck:
        """Step 2, once the attempt is counted: the PIN against the hash read with it.

        The count read with it may show wrong tries this guard had not seen (another
        room's, since its last reading): if they had locked the secret, this attempt is
        refused unchecked and the lockout starts now, as if it had been seen at once."""
        before = max(0, counted.failures - 1)  # wrong tries in a row before this one
        if before > self._counted_from and lockout_s(before) > 0:
            self._lock_key = (counted.failures, counted.version)
            self._lock_since = self._clock()
            wait = lockout_s(counted.failures)
            return PinCheck(
                False,
                f"too many wrong {self.nouns} (here or in another room): "
                f"try again in {duration(wait)}",
                wait,
            )
        ok = verify_hash(pin, counted.hash or "")
        note = getattr(self.backend, "note_sign_in", None)  # the store's: the audit trail
        if note is not None:
            note(ok, 0 if ok else counted.failures)
        if ok:
            self.backend.clear_failures()
            self._lock_key = None
            return PinCheck(True, f"{self.noun} accepted")
        failures = counted.failures
        wait = lockout_s(failures)
        if wait > 0:
            self.locked_for_s()  # the wait starts now
            return PinCheck(
                False,
                f"wrong {self.noun} ({failures} in a row): locked for {duration(wait)}",
                wait,
            )
        left = FREE_ATTEMPTS - failures
        return PinCheck(
            False,
            f"wrong {self.noun}: {left} more {'try' if left == 1 else 'tries'} before a lockout",
        )

    def verify(self, pin: str, timeout: float = WAIT_S) -> PinCheck:
        """Both steps, waiting for the store (headless use and tests; the dialog does not
        wait)."""
        refused = self.refusal()
        if refused is not None:
            return refused
        try:
            counted = self.count_attempt().result(timeout)
        except FutureTimeout:
            return PinCheck(
                False,
                "the attempt could not be recorded in the client records "
                "(they do not answer): no PIN is checked until it is",
            )
        except Exception as exc:  # noqa: BLE001 - in words for the technician
            return PinCheck(
                False,
                "the attempt could not be recorded in the client records "
                f"({exc}): no PIN is checked until it is",
            )
        return self.check(pin, counted)

    def set_pin(
        self, new_pin: str, current_pin: str | None = None, timeout: float = WAIT_S
    ) -> None:
        """Set the PIN at first use; changing it needs the current PIN (counted and
        rate-limited too). Waits for the store (PinError if it refuses)."""
        problem = check_format(new_pin, passphrase=self.passphrase)
        if problem:
            raise PinError(problem)
        if not self.known:
            raise PinError("the client records are not open yet")
        if self.missing:
            raise PinError(
                f"the {self.noun} is missing from the records: run '{self.reset_command}'"
            )
        after: int | None = None
        if self.is_set:
            check = self.verify(current_pin or "", timeout)
            if not check.ok:
                raise PinError(check.message)
            after = self.state.version if self.state is not None else None
        try:
            self.store_pin(new_pin, after).result(timeout)
        except FutureTimeout:
            raise PinError(
                f"the client records do not answer: the {self.noun} was not stored"
            ) from None
        except Exception as exc:  # noqa: BLE001 - in words for the technician
            raise PinError(f"the {self.noun} was not stored: {exc}") from None

    def store_pin(self, new_pin: str, after_version: int | None) -> Future:
        """Store a new PIN's hash (``after_version`` None: a first set-up)."""
        return self.backend.store_hash(
            hash_pin(new_pin), first=after_version is None, after_version=after_version
        )
