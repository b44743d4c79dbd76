"""Technician PIN: only a salted hash is stored; every attempt is counted before it is
checked; wrong PINs lock by count on a monotonic clock (a restart, or the wall clock set
forward, never lifts a lockout); a store that refuses writes gets no tries at all."""

from __future__ import annotations

import time

import pytest

from app.service.pin import (
    FIRST_LOCKOUT_S,
    MAX_LOCKOUT_S,
    MemoryPinBackend,
    PinError,
    PinGuard,
    PinState,
    check_format,
    hash_pin,
    lockout_s,
    verify_hash,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_only_a_salted_hash_is_stored():
    backend = MemoryPinBackend()
    guard = PinGuard(backend)
    assert not guard.is_set
    assert guard.setup_allowed
    guard.set_pin("482913")
    stored = backend.current.hash
    assert stored is not None
    assert "482913" not in stored
    assert stored.startswith("scrypt$")
    assert hash_pin("482913") != hash_pin("482913")  # fresh salt each time
    assert verify_hash("482913", stored)
    assert not verify_hash("482914", stored)
    assert not verify_hash("482913", "garbage")


def test_the_console_hashes_at_its_own_work_factor(production_secret_hashes):
    """The other tests hash at a small factor (tests/conftest.py): the console's own is
    scrypt n = 2**14, r = 8, p = 1, named in the stored string, and a hash made at a
    smaller factor is still checked by the factor it names."""
    assert production_secret_hashes == 2**14
    stored = hash_pin("482913")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(bytes.fromhex(salt)) == 16
    assert len(bytes.fromhex(digest)) == 32
    assert verify_hash("482913", stored)
    assert not verify_hash("482914", stored)
    quick = stored.replace("$16384$", "$256$", 1)  # the same digest, another factor
    assert not verify_hash("482913", quick)


def test_the_other_tests_hash_at_the_small_factor():
    """The conftest's factor is in effect where a test does not ask for the console's."""
    assert hash_pin("482913").split("$")[1] == "256"


def test_correct_pin_accepted_wrong_pin_refused():
    guard = PinGuard(MemoryPinBackend())
    assert not guard.verify("1234").ok  # nothing set yet
    guard.set_pin("1234")
    assert guard.verify("1234").ok
    check = guard.verify("4321")
    assert not check.ok
    assert "2 more tries" in check.message


def test_every_attempt_is_counted_before_it_is_checked():
    backend = MemoryPinBackend()
    guard = PinGuard(backend)
    guard.set_pin("2468")
    counted = guard.count_attempt().result(1)
    assert counted.failures == 1
    assert backend.current.failures == 1
    assert guard.check("2468", counted).ok
    assert backend.current.failures == 0  # a right PIN clears the count


def test_wrong_pins_lock_out_exponentially_and_survive_a_restart():
    clock, backend = Clock(), MemoryPinBackend()
    guard = PinGuard(backend, clock)
    guard.set_pin("2468")
    for _ in range(2):
        assert not guard.verify("0000").ok
    assert guard.locked_for_s() == 0.0
    check = guard.verify("0000")  # third wrong PIN in a row: locked
    assert check.locked_for_s == FIRST_LOCKOUT_S
    assert not guard.verify("2468").ok  # even the right PIN is refused while locked
    assert backend.current.failures == 3  # a refused (locked) try is not even counted
    clock.t += 10
    assert guard.locked_for_s() == pytest.approx(FIRST_LOCKOUT_S - 10)
    restarted = PinGuard(backend, Clock())  # a new process: its own monotonic clock
    assert restarted.failures == 3
    assert restarted.locked_for_s() == FIRST_LOCKOUT_S  # the wait starts again, in full
    assert not restarted.verify("2468").ok
    clock.t += FIRST_LOCKOUT_S
    assert guard.verify("2468").ok
    assert guard.failures == 0


def test_moving_the_wall_clock_forward_does_not_lift_a_lockout(monkeypatch):
    clock, backend = Clock(), MemoryPinBackend()
    guard = PinGuard(backend, clock)
    guard.set_pin("2468")
    for _ in range(3):
        guard.verify("0000")
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 86_400 * 365)  # a year forward
    assert guard.locked_for_s() == FIRST_LOCKOUT_S
    assert not guard.verify("2468").ok
    # nothing about the lockout is a stored time: a restart under the new date is locked too
    assert PinGuard(backend, Clock()).locked_for_s() == FIRST_LOCKOUT_S


def test_lockout_schedule_is_capped():
    assert [lockout_s(n) for n in range(3)] == [0.0, 0.0, 0.0]
    assert lockout_s(3) == FIRST_LOCKOUT_S
    assert lockout_s(4) == 2 * FIRST_LOCKOUT_S
    assert lockout_s(50) == MAX_LOCKOUT_S


def test_an_unwritable_store_gives_no_tries_even_after_restarts():
    backend = MemoryPinBackend()
    PinGuard(backend).set_pin("2468")
    backend.writable = False
    for _restart in range(5):
        guard = PinGuard(backend)
        check = guard.verify("2468")  # even the right PIN: the attempt is not recorded
        assert not check.ok
        assert "could not be recorded" in check.message
    assert backend.current.failures == 0


def test_a_missing_hash_does_not_offer_a_new_setup():
    backend = MemoryPinBackend(PinState(None, True, 0, 3))  # a PIN was set; hash deleted
    guard = PinGuard(backend)
    assert guard.missing
    assert not guard.setup_allowed
    with pytest.raises(PinError, match="reset-pin"):
        guard.set_pin("1357")
    assert "reset-pin" in guard.verify("1357").message
    assert backend.current.hash is None


def test_unknown_state_refuses_every_try():
    class Unknown(MemoryPinBackend):
        def state(self):
            return None

    guard = PinGuard(Unknown())
    assert not guard.known
    assert not guard.setup_allowed
    assert "not open" in guard.verify("1234").message
    with pytest.raises(PinError):
        guard.set_pin("1234")


def test_changing_the_pin_needs_the_current_one_and_formats_are_checked():
    guard = PinGuard(MemoryPinBackend())
    with pytest.raises(PinError):
        guard.set_pin("12a4")
    with pytest.raises(PinError):
        guard.set_pin("123")
    guard.set_pin("1234")
    with pytest.raises(PinError):
        guard.set_pin("5678")  # no current PIN
    with pytest.raises(PinError):
        guard.set_pin("5678", "9999")
    guard.set_pin("5678", "1234")
    assert guard.verify("5678").ok
    assert check_format("１２３４") is not None  # non-ASCII digits refused


class StaleRoom:
    """Another room's view of the same stored secret: its state is what it last read
    (as ``OperatorSecretBackend`` keeps its operator record), refreshed by its own count."""

    def __init__(self, shared: MemoryPinBackend) -> None:
        self.shared = shared
        self.seen = shared.current

    def state(self):
        return self.seen

    def count_attempt(self):
        fut = self.shared.count_attempt()
        self.seen = fut.result()
        return fut

    def clear_failures(self):
        fut = self.shared.clear_failures()
        self.seen = self.shared.current
        return fut


def test_a_lockout_from_wrong_tries_in_another_room_holds_in_this_one():
    """Room C has not read the count since room A's three wrong tries: its first attempt
    (even with the right secret) learns of them with its count and is refused, locked."""
    shared = MemoryPinBackend()
    room_a = PinGuard(shared, Clock())
    room_a.set_pin("2468")
    clock_c = Clock()
    room_c = PinGuard(StaleRoom(shared), clock_c)
    assert room_c.refusal() is None  # as far as room C knows: no wrong tries
    for _ in range(3):
        assert not room_a.verify("0000").ok
    assert room_a.refusal() is not None  # room A is locked
    check = room_c.verify("2468")
    assert not check.ok
    assert "another room" in check.message
    assert check.locked_for_s == lockout_s(4)  # this attempt counted too
    assert room_c.refusal() is not None  # and stays locked here...
    clock_c.t += lockout_s(4) + 1
    assert room_c.verify("2468").ok  # ...until the wait is over
