"""The technician PIN: a salted scrypt hash, set at first use, wrong PINs rate-limited.

Only the hash, its salt and parameters, the count of wrong PINs in a row and the lockout
time are stored — never the PIN. Lockouts grow exponentially after
:data:`FREE_ATTEMPTS` wrong PINs and survive a restart (stored with the hash, on the wall
clock). Storage is any :class:`KeyValueStore`; :class:`QSettingsStore` keeps it in the
console's QSettings.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QSettings

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

KEY_HASH = "technician_pin/hash"
KEY_FAILURES = "technician_pin/failures"
KEY_LOCKED_UNTIL = "technician_pin/locked_until"


class KeyValueStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemoryStore:
    """A dict-backed store (tests, and a console without settings)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, value: str) -> None:
        self.data[key] = value


class QSettingsStore:
    """Keeps the values in a QSettings (written through at once with sync())."""

    def __init__(self, settings: QSettings) -> None:
        self._s = settings

    def get(self, key: str) -> str | None:
        value = self._s.value(key)
        return None if value is None else str(value)

    def put(self, key: str, value: str) -> None:
        self._s.setValue(key, value)
        self._s.sync()


class PinError(ValueError):
    """A PIN that cannot be set (format, or the current PIN did not match)."""


@dataclass(frozen=True, slots=True)
class PinCheck:
    ok: bool
    message: str
    locked_for_s: float = 0.0  # > 0: no PIN is checked for this long


def check_format(pin: str) -> str | None:
    """Why ``pin`` is not an acceptable PIN, or None."""
    if not pin.isascii() or not pin.isdigit():
        return "the PIN must contain digits only"
    if not MIN_LENGTH <= len(pin) <= MAX_LENGTH:
        return f"the PIN must have {MIN_LENGTH} to {MAX_LENGTH} digits"
    return None


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) for ``pin`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=HASH_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_hash(pin: str, stored: str) -> bool:
    """Constant-time check of ``pin`` against a stored ``hash_pin`` string."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != SCHEME:
            return False
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def lockout_s(failures: int) -> float:
    """Lockout after ``failures`` wrong PINs in a row: none for the first few, then doubling."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return min(MAX_LOCKOUT_S, FIRST_LOCKOUT_S * 2.0 ** (failures - FREE_ATTEMPTS))


class PinGuard:
    """Sets and checks the technician PIN; ``clock`` is wall-clock seconds (time.time)."""

    def __init__(self, store: KeyValueStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @property
    def is_set(self) -> bool:
        return bool(self._store.get(KEY_HASH))

    @property
    def failures(self) -> int:
        try:
            return max(0, int(self._store.get(KEY_FAILURES) or 0))
        except ValueError:
            return FREE_ATTEMPTS  # a damaged counter counts as suspicious, not as zero

    def locked_for_s(self) -> float:
        """Seconds until a PIN may be tried again (0 when not locked)."""
        try:
            until = float(self._store.get(KEY_LOCKED_UNTIL) or 0.0)
        except ValueError:
            until = self._clock() + MAX_LOCKOUT_S
        left = until - self._clock()
        # a clock set back must not lock the bench for longer than the longest lockout
        return max(0.0, min(left, MAX_LOCKOUT_S))

    def set_pin(self, new_pin: str, current_pin: str | None = None) -> None:
        """Set the PIN at first use; changing it needs the current PIN (rate-limited too)."""
        problem = check_format(new_pin)
        if problem:
            raise PinError(problem)
        if self.is_set:
            check = self.verify(current_pin or "")
            if not check.ok:
                raise PinError(check.message)
        self._store.put(KEY_HASH, hash_pin(new_pin))
        self._store.put(KEY_FAILURES, "0")
        self._store.put(KEY_LOCKED_UNTIL, "0")

    def verify(self, pin: str) -> PinCheck:
        if not self.is_set:
            return PinCheck(False, "no technician PIN has been set yet")
        wait = self.locked_for_s()
        if wait > 0:
            return PinCheck(False, f"too many wrong PINs: try again in {duration(wait)}", wait)
        if verify_hash(pin, self._store.get(KEY_HASH) or ""):
            self._store.put(KEY_FAILURES, "0")
            self._store.put(KEY_LOCKED_UNTIL, "0")
            return PinCheck(True, "PIN accepted")
        failures = self.failures + 1
        self._store.put(KEY_FAILURES, str(failures))
        wait = lockout_s(failures)
        if wait > 0:
            self._store.put(KEY_LOCKED_UNTIL, repr(self._clock() + wait))
            return PinCheck(False, f"wrong PIN ({failures} in a row): locked for {duration(wait)}",
                            wait)
        left = FREE_ATTEMPTS - failures
        return PinCheck(False, f"wrong PIN: {left} more {'try' if left == 1 else 'tries'} "
                               "before a lockout")

