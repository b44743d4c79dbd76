"""Shared fixtures. Every test fails if it leaves a thread (Python or QThread) running."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import weakref

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the user's real settings or database.
os.environ.setdefault("MICROCURRENT_TEST_MODE", "1")

try:
    from PySide6.QtCore import QThread
except ImportError:  # pragma: no cover - Qt is a hard dependency
    QThread = None

_started_qthreads: list[weakref.ref] = []

if QThread is not None:
    _original_start = QThread.start

    def _tracking_start(self, *args, **kwargs):
        _started_qthreads.append(weakref.ref(self))
        return _original_start(self, *args, **kwargs)

    QThread.start = _tracking_start


def pytest_collection_finish(session) -> None:
    """Move everything alive once the test modules are imported (Qt, numpy, SQLAlchemy,
    the app, the tests themselves: most of the heap) out of the cyclic garbage
    collector's reach. The full collection every test ends with (below) then walks only
    what the tests made: a few milliseconds instead of a third of a second, which over
    1,600 tests was most of the suite's time. Reference counting still frees those
    objects; only a reference cycle among them would never be collected. The modules
    the tests import on first use (the whole app, the migrations' machinery, the
    PostgreSQL driver) are imported here first, to be frozen too; one that fails to
    import is left to the tests that use it to report."""
    import importlib
    import pkgutil

    import app

    lazily = ["sqlalchemy.pool", "PySide6.QtWidgets", "alembic.command", "psycopg"]
    for info in pkgutil.walk_packages(app.__path__, "app."):
        name = info.name
        if name.startswith(("app.bench", "app.commands")) or ".migrations" in name:
            continue  # command-line entry points; Alembic's own scripts
        if not name.endswith("__main__"):
            lazily.append(name)
    for name in lazily:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - the tests that import it report it
            continue
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Between two test files (the first one's module fixtures gone), freeze what is still
    alive too: caches and objects of the session that the files before filled, so the
    heap the collection walks stays that of one file."""
    yield
    if nextitem is None or nextitem.module is not item.module:
        gc.collect()
        gc.freeze()


def _live_python_threads(before: set[int]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]  # type: ignore[attr-defined]


def _running_qthreads() -> list:
    alive = []
    for ref in _started_qthreads:
        t = ref()
        if t is None:
            continue
        try:
            if t.isRunning():
                alive.append(t)
        except RuntimeError:  # C++ object already deleted: not running
            continue
    return alive


@pytest.fixture(autouse=True)
def _no_thread_left_running(request):
    """Fail any test that leaves a thread running (grace period 2 s to finish)."""
    before = {t.ident for t in threading.enumerate()}
    _started_qthreads.clear()
    yield
    # Collect the test's cyclic garbage here, in the GUI thread: a QObject with a running
    # timer collected later by a worker thread's garbage collection would crash Qt.
    gc.collect()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        leftover = _live_python_threads(before) + _running_qthreads()
        if not leftover:
            return
        time.sleep(0.02)
    names = [getattr(t, "name", None) or repr(t) for t in leftover]
    pytest.fail(f"{request.node.nodeid} left threads running: {names}")


_UI_DIR = os.sep + os.path.join("app", "ui") + os.sep


def _ui_frame_on_the_stack() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if _UI_DIR in name:
            return f"{os.path.relpath(name)}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return None


@pytest.fixture(autouse=True)
def _no_database_work_on_the_gui_thread(request):
    """Fail any test in which the console's widgets (app/ui) used the database on the GUI
    thread: reads go through background reads, writes through the writer thread (as the
    thread-leak fixture does for threads). Test code itself may read on any thread."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    seen: list[str] = []

    def checkout(_dbapi_conn, _record, _proxy) -> None:
        if threading.current_thread() is threading.main_thread():
            where = _ui_frame_on_the_stack()
            if where is not None:
                seen.append(where)

    event.listen(Pool, "checkout", checkout)
    try:
        yield
    finally:
        event.remove(Pool, "checkout", checkout)
    if seen:
        pytest.fail(
            f"{request.node.nodeid}: the GUI thread used the database from {sorted(set(seen))}"
        )


@pytest.fixture(autouse=True)
def _an_operator_signs_in(monkeypatch):
    """Every console a test opens signs in a manager from the environment, as a headless
    run does (the first start creates that manager), so no test meets the sign-in page
    unless it asks for it (tests/access.py ``no_operator_from_env``)."""
    from access import TEST_OPERATOR, TEST_SECRET

    monkeypatch.setenv("MICROCURRENT_OPERATOR", TEST_OPERATOR)
    monkeypatch.setenv("MICROCURRENT_OPERATOR_SECRET", TEST_SECRET)


# scrypt's work factor in the tests: 2**8 instead of the console's 2**14 (app/service/pin.py
# SCRYPT_N), about 0.3 ms a hash instead of 44 ms. Every console a test opens signs its
# manager in (a hash made on the first start, then checked), and the operator and PIN
# tests hash dozens of secrets: at the console's own factor that was 3 s of CPU in three
# files alone. A stored hash names its own factor (``scrypt$n$r$p$...``), so checking one
# made at either factor works as before; a test of the hashing itself asks for
# ``production_secret_hashes`` and gets the console's factor.
TEST_SCRYPT_N = 2**8


@pytest.fixture
def production_secret_hashes():
    """scrypt at the console's own work factor in this test (see ``TEST_SCRYPT_N``)."""
    from app.service import pin

    return pin.SCRYPT_N


@pytest.fixture(autouse=True)
def _quick_secret_hashes(request, monkeypatch):
    if "production_secret_hashes" in request.fixturenames:
        return
    from app.service import pin

    monkeypatch.setattr(pin, "SCRYPT_N", TEST_SCRYPT_N)


@pytest.fixture(scope="session")
def _sqlite_at_head(tmp_path_factory):
    """An SQLite file with the schema at the head revision and nothing else, made once
    per test process by the migrations themselves (``upgrade_to_head``)."""
    from app.store.database import upgrade_to_head

    path = tmp_path_factory.mktemp("schema") / "head.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def new_sqlite_url(tmp_path, _sqlite_at_head):
    """``sqlite:///<tmp_path>/records.db``: a new database, as the migrations leave a new
    file (a copy of ``_sqlite_at_head``), so that ``start_store``/``open_store`` find the
    schema at head and only recover and seed it: the 13 migrations run once per process,
    not for every console and records view a test opens (60 ms of CPU each). The tests of
    the migrations themselves make their own files."""
    import shutil

    path = tmp_path / "records.db"
    shutil.copy2(_sqlite_at_head, path)
    return f"sqlite:///{path}"


@pytest.fixture
def tmp_settings(tmp_path, monkeypatch):
    """Isolate QSettings and the default database location in a temporary folder."""
    monkeypatch.setenv("MICROCURRENT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def _closing_never_waits_on_a_dialog(monkeypatch):
    """pytest-qt closes leftover windows before fixtures tear down; a window closing with
    output still ramping down would wait forever on its modal confirmation."""
    from app.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "confirm_close", lambda self: True)


@pytest.fixture(autouse=True)
def _no_unexpected_modal_dialog(monkeypatch, request):
    """A message box nobody answers would hang the test run: every static QMessageBox
    call returns at once (question → No) and fails the test at teardown, unless the test
    patched it itself (its own ``monkeypatch.setattr`` runs after this one)."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []

    def make(kind: str, answer):
        def box(_parent, _title, text, *args, **kwargs):
            shown.append(f"{kind}: {text}")
            return answer

        return box

    for kind in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, make(kind, QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "question", make("question", QMessageBox.StandardButton.No))
    yield
    if shown:
        pytest.fail(f"{request.node.nodeid} opened unexpected message boxes: {shown}")


# --------------------------------------------------------------------------- the simulator
# One set-up of the simulator process, its link, the console's watchdog feeding and (when
# a test drives output) the output authority, for every test that runs against it.


class SimulatedDevice:
    """The simulator, a link to it, a watchdog feeder and, with ``owner``, the output
    authority the link is bound to (``port``: what a driver holds to raise output)."""

    def __init__(self, sim, link, feeder, authority) -> None:
        self.sim, self.link, self.feeder, self.authority = sim, link, feeder, authority

    def port(self, driver=None, **kwargs):
        from app.engine.authority import Driver

        assert self.authority is not None, "ask simulated_device(owner=...) for output"
        return self.authority.port(driver or self.authority.owner or Driver.BENCH, **kwargs)


@pytest.fixture
def simulated_device(qtbot):
    """``make(*simulator_args, feed=True, owner=None, connect=True)`` → SimulatedDevice,
    started (and connected); everything is stopped after the test."""
    from app.device.link import DeviceLink
    from app.device.sim_process import SimulatorProcess
    from app.engine.authority import OutputAuthority
    from app.service.feeder import WatchdogFeeder

    made: list[SimulatedDevice] = []

    def make(*args: str, feed: bool = True, owner=None, connect: bool = True):
        sim = SimulatorProcess(list(args))
        link = DeviceLink(sim.start())
        authority = None
        if owner is not None:
            authority = OutputAuthority(owner=owner)
            authority.set_link(link)
        feeder = WatchdogFeeder(link) if feed else None
        device = SimulatedDevice(sim, link, feeder, authority)
        made.append(device)
        if connect:
            with qtbot.waitSignal(link.connected, timeout=10_000):
                link.start()
        return device

    yield make
    for device in made:
        if device.feeder is not None:
            device.feeder.stop()
        assert device.link.stop(3000), "the link thread did not stop"
        device.sim.stop()
