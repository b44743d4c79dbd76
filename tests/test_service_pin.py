"""Technician PIN: only a salted hash is stored; wrong PINs are rate-limited, persistently."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.service import pin as pin_mod
from app.service.pin import (
    FIRST_LOCKOUT_S,
    KEY_HASH,
    MAX_LOCKOUT_S,
    MemoryStore,
    PinError,
    PinGuard,
    QSettingsStore,
    check_format,
    hash_pin,
    lockout_s,
    verify_hash,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_only_a_salted_hash_is_stored():
    store = MemoryStore()
    guard = PinGuard(store)
    assert not guard.is_set
    guard.set_pin("482913")
    stored = "".join(store.data.values())
    assert "482913" not in stored
    assert store.data[KEY_HASH].startswith("scrypt$")
    assert hash_pin("482913") != hash_pin("482913")  # fresh salt each time
    assert verify_hash("482913", store.data[KEY_HASH])
    assert not verify_hash("482914", store.data[KEY_HASH])
    assert not verify_hash("482913", "garbage")


def test_correct_pin_accepted_wrong_pin_refused():
    guard = PinGuard(MemoryStore())
    assert not guard.verify("1234").ok  # nothing set yet
    guard.set_pin("1234")
    assert guard.verify("1234").ok
    check = guard.verify("4321")
    assert not check.ok
    assert "2 more tries" in check.message


def test_wrong_pins_lock_out_exponentially_and_survive_a_restart():
    clock, store = Clock(), MemoryStore()
    guard = PinGuard(store, clock)
    guard.set_pin("2468")
    for _ in range(2):
        assert guard.verify("0000").locked_for_s == 0
    third = guard.verify("0000")
    assert third.locked_for_s == FIRST_LOCKOUT_S
    assert "locked" in third.message
    # during the lockout even the right PIN is not checked
    assert not guard.verify("2468").ok
    # a restart (a new guard over the same storage) is still locked
    restarted = PinGuard(store, clock)
    assert restarted.locked_for_s() == pytest.approx(FIRST_LOCKOUT_S)
    clock.t += FIRST_LOCKOUT_S + 1
    assert restarted.verify("1111").locked_for_s == 2 * FIRST_LOCKOUT_S
    clock.t += 2 * FIRST_LOCKOUT_S + 1
    assert restarted.verify("2468").ok
    assert restarted.failures == 0


def test_lockout_schedule_is_capped_and_a_clock_set_back_cannot_lock_forever():
    assert [lockout_s(n) for n in range(5)] == [0, 0, 0, 30, 60]
    assert lockout_s(50) == MAX_LOCKOUT_S
    clock, store = Clock(), MemoryStore()
    guard = PinGuard(store, clock)
    guard.set_pin("1357")
    for _ in range(3):
        guard.verify("0")
    clock.t -= 10 * 365 * 86400  # clock moved back ten years
    assert guard.locked_for_s() <= MAX_LOCKOUT_S


def test_changing_the_pin_needs_the_current_one_and_formats_are_checked():
    guard = PinGuard(MemoryStore())
    for bad in ("12", "12ab", "１２３４", "1234567890123"):
        assert check_format(bad)
        with pytest.raises(PinError):
            guard.set_pin(bad)
    guard.set_pin("1234")
    with pytest.raises(PinError, match="wrong PIN"):
        guard.set_pin("5678", current_pin="9999")
    guard.set_pin("5678", current_pin="1234")
    assert guard.verify("5678").ok


def test_qsettings_store_round_trip(tmp_path):
    s = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    guard = PinGuard(QSettingsStore(s))
    guard.set_pin("8642")
    again = PinGuard(QSettingsStore(QSettings(str(tmp_path / "s.ini"),
                                              QSettings.Format.IniFormat)))
    assert again.is_set
    assert again.verify("8642").ok
    assert "8642" not in (tmp_path / "s.ini").read_text()


def test_damaged_failure_counter_is_not_read_as_zero():
    store = MemoryStore()
    guard = PinGuard(store)
    guard.set_pin("1234")
    store.data[pin_mod.KEY_FAILURES] = "x"
    assert guard.failures == pin_mod.FREE_ATTEMPTS
