"""Observable failures (app/ui/failures.py): an unexpected exception ends in the log file
(0600) with its traceback and no health data, any output is stopped first, then a short
non-modal dialog points to the log; Qt's warnings and hard crashes are recorded too.

Each test installs the hooks itself and uninstalls them, so pytest-qt's own message
handler and exception capture are back for the next test.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer, qInstallMessageHandler, qWarning
from PySide6.QtWidgets import QPushButton, QWidget

from app.ui import failures
from app.ui.failures import FailureGuard, describe_exception, log_file_handler

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Jane Doe, allergic to nickel"  # stands for any health data in a message


def _mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def logged(tmp_path, umask_022):
    """The console's log file handler on the root logger, writing to a fresh data folder."""
    path = tmp_path / "data" / "logs" / "console.log"
    from app import paths

    paths.private_dir(path.parent)
    handler = log_file_handler(path)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


@pytest.fixture
def guard(logged):
    g = FailureGuard(logged, faults_path=logged.parent / failures.FAULTS_FILE)
    yield g
    g.uninstall()
    if g.box is not None:
        g.box.close()


class Window(QWidget):
    """Stands for the main window: ``emergency_stop`` and an ``authority``."""

    def __init__(self, guard: FailureGuard) -> None:
        super().__init__()
        self.events: list[str] = []
        self.guard = guard
        self.button = QPushButton("Go", self)
        self.button.clicked.connect(self.broken_slot)
        self.authority = self

    def broken_slot(self) -> None:
        raise ValueError(SECRET)

    def emergency_stop(self) -> None:
        self.events.append("estop" if self.guard.box is None else "estop after dialog")

    def estop(self) -> None:
        self.events.append("authority estop")


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_stops_output_then_points_to_the_log(qtbot, guard, logged):
    window = Window(guard)
    qtbot.addWidget(window)
    guard.install(faults=False)
    failures.attach(guard, window)
    window.button.click()  # the slot raises inside Qt's signal delivery
    assert window.events == ["estop"]  # stopped first, before the dialog, through the window
    assert guard.failures == 1
    text = logged.read_text()
    assert "CRITICAL app.failures" in text
    assert "unexpected ValueError in MainThread" in text
    assert "Traceback (most recent call last)" in text
    assert "in broken_slot" in text
    assert "raise ValueError(SECRET)" in text
    assert "builtins.ValueError (message not logged)" in text
    assert "Jane" not in text
    assert "nickel" not in text
    assert _mode(logged) == 0o600
    assert _mode(logged.parent) == 0o700
    box = guard.box
    assert box is not None
    assert box.isVisible()
    assert not box.isModal()
    assert str(logged) in box.informativeText()
    assert "Traceback" not in box.text() + box.informativeText()
    assert "Jane" not in box.text() + box.informativeText()
    window.button.click()  # a second failure: stopped again, no second dialog
    assert window.events == ["estop", "estop after dialog"]
    assert guard.box is box


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_timer_slot_of_the_main_window_sends_estop(
    qtbot, guard, logged, tmp_path, monkeypatch
):
    from app.ui.device_manager import DeviceManager
    from app.ui.main_window import MainWindow

    window = MainWindow(
        DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    sent: list[str] = []
    real_estop = window.authority.estop
    monkeypatch.setattr(window.authority, "estop", lambda: (sent.append("ESTOP"), real_estop())[1])
    guard.install(faults=False)
    failures.attach(guard, window)

    def tick() -> None:
        raise RuntimeError(SECRET)

    QTimer.singleShot(0, tick)
    qtbot.waitUntil(lambda: guard.failures == 1, timeout=2000)
    assert sent == ["ESTOP"]
    assert "EMERGENCY STOP" in window.state_label.text()
    assert "builtins.RuntimeError" in logged.read_text()
    assert SECRET not in logged.read_text()


@pytest.mark.qt_no_exception_capture
def test_a_failing_emergency_stop_falls_back_to_the_authority(qtbot, guard, logged):
    window = Window(guard)
    qtbot.addWidget(window)

    def broken_stop() -> None:
        raise AttributeError("widget " + "gone".upper())  # a message made at run time

    window.emergency_stop = broken_stop  # type: ignore[method-assign]
    guard.install(faults=False)
    failures.attach(guard, window, dialog=False)
    window.button.click()
    assert window.events == ["authority estop"]
    text = logged.read_text()
    assert "stopping the output failed (AttributeError)" in text
    assert "GONE" not in text
    assert guard.box is None  # dialog=False: nobody to answer it (--screenshot)


@pytest.mark.qt_no_exception_capture
def test_the_hook_survives_failures_inside_itself(qtbot, guard, logged, monkeypatch, capsys):
    window = Window(guard)
    qtbot.addWidget(window)
    guard.install(faults=False)
    failures.attach(guard, window, dialog=False)

    def broken_describe(*_args):
        raise MemoryError

    monkeypatch.setattr(failures, "describe_exception", broken_describe)
    guard.excepthook(ValueError, ValueError(SECRET), None)  # does not raise
    assert window.events == ["estop"]  # the output is still stopped
    assert "ValueError" in capsys.readouterr().err  # the default hook printed it instead


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_thread_is_logged_and_stops_output_in_the_gui_thread(
    qtbot, guard, logged
):
    window = Window(guard)
    qtbot.addWidget(window)
    stopped_in: list[str] = []
    window.emergency_stop = lambda: stopped_in.append(  # type: ignore[method-assign]
        threading.current_thread().name
    )
    guard.install(faults=False)
    failures.attach(guard, window, dialog=False)

    def worker() -> None:
        raise KeyError(SECRET)

    t = threading.Thread(target=worker, name="records-open")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: bool(stopped_in), timeout=2000)
    assert stopped_in == ["MainThread"]
    text = logged.read_text()
    assert "unexpected KeyError in records-open" in text
    assert "in worker" in text
    assert "Jane" not in text


def test_qt_warnings_go_to_the_log_and_the_previous_handler_comes_back(guard, logged):
    def current_handler():
        previous = qInstallMessageHandler(None)
        qInstallMessageHandler(previous)
        return previous

    before = current_handler()  # pytest-qt's
    guard.install(faults=False)
    qWarning("QPainter::begin: Paint device returned engine == 0")
    guard.uninstall()
    assert current_handler() == before
    text = logged.read_text()
    assert "WARNING qt" in text
    assert "QPainter::begin: Paint device returned engine == 0" in text


def test_hooks_are_restored(guard):
    hooks = (sys.excepthook, threading.excepthook, faulthandler.is_enabled())
    guard.install()
    assert sys.excepthook == guard.excepthook
    assert threading.excepthook == guard.threading_excepthook
    assert faulthandler.is_enabled()
    guard.uninstall()
    assert (sys.excepthook, threading.excepthook, faulthandler.is_enabled()) == hooks


def test_the_crash_dump_file_is_private_and_catches_a_hard_crash(tmp_path, umask_022):
    home = tmp_path / "home"
    code = (
        "from app.ui import failures\n"
        "guard = failures.install()\n"
        "import faulthandler\n"
        "faulthandler._sigsegv()\n"
    )
    env = dict(os.environ, MICROCURRENT_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    faults = home / "logs" / failures.FAULTS_FILE
    assert _mode(faults) == 0o600
    assert _mode(home / "logs" / "console.log") == 0o600
    dump = faults.read_text()
    assert "Fatal Python error: Segmentation fault" in dump
    assert "<string>" in dump  # the Python stack of the crashing thread


def test_log_rotation_keeps_every_file_private(tmp_path, umask_022):
    path = tmp_path / "logs" / "console.log"
    path.parent.mkdir(mode=0o700)
    handler = failures.PrivateRotatingFileHandler(path, maxBytes=200, backupCount=2)
    logger = logging.getLogger("test.rotation")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(30):
            logger.warning("line %d of the log, long enough to roll over soon", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["console.log", "console.log.1", "console.log.2"]
    assert {_mode(f) for f in files} == {0o600}


def test_description_keeps_types_and_frames_of_the_whole_chain_but_no_message():
    def inner():
        raise KeyError(SECRET)

    try:
        try:
            inner()
        except KeyError as exc:
            raise ValueError(SECRET) from exc
    except ValueError as exc:
        text = describe_exception(type(exc), exc, exc.__traceback__)
    assert text.count("Traceback (most recent call last):") == 2
    assert "builtins.KeyError (message not logged)" in text
    assert "which led to:" in text
    assert text.rstrip().endswith("builtins.ValueError (message not logged)")
    assert "in inner" in text
    assert "Jane" not in text
    assert "nickel" not in text


def test_launcher_installs_the_hooks_in_run_console_only():
    source = (ROOT / "app" / "ui" / "launcher.py").read_text()
    assert "failures.install()" in source
    assert "failures.attach(guard, window" in source
    # nothing installs a hook at import time
    for module in ("app/ui/failures.py", "app/ui/launcher.py", "app/__main__.py"):
        text = (ROOT / module).read_text()
        top_level = [
            line
            for line in text.splitlines()
            if line.startswith(
                (
                    "sys.excepthook",
                    "threading.excepthook",
                    "qInstallMessageHandler",
                    "faulthandler.enable",
                )
            )
        ]
        assert not top_level, module


CONSOLE_WITH_A_BROKEN_SLOT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.engine.authority import OutputAuthority
from app.ui.main_window import MainWindow

real_estop = OutputAuthority.estop
def estop(self):
    print("ESTOP sent", flush=True)
    return real_estop(self)
OutputAuthority.estop = estop

real_show = MainWindow.show
def show(self):
    real_show(self)
    def broken():
        raise ValueError("Jane " + "Doe")
    def check():
        from app.ui import failures
        box = [w for w in QApplication.topLevelWidgets()
               if w.isVisible() and w.windowTitle() == "Unexpected error"]
        print("dialog shown" if box else "no dialog", flush=True)
        QApplication.quit()
    self.live_data_seen.connect(lambda: QTimer.singleShot(100, broken))
    self.live_data_seen.connect(lambda: QTimer.singleShot(600, check))
MainWindow.show = show

from app.__main__ import main
sys.exit(main([]))
"""


@pytest.mark.slow
def test_the_console_stops_output_and_logs_an_exception_in_a_slot(tmp_path):
    """End to end: the console on its simulator; a slot raises once live data shows."""
    home = tmp_path / "home"
    env = dict(os.environ, MICROCURRENT_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", CONSOLE_WITH_A_BROKEN_SLOT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == ["ESTOP sent", "dialog shown"], result.stdout
    log = home / "logs" / "console.log"
    text = log.read_text()
    assert "unexpected ValueError in MainThread" in text
    assert "in broken" in text
    assert "Jane" not in text
    assert "Doe" not in result.stderr
    assert _mode(log) == 0o600
    assert _mode(home / "logs" / failures.FAULTS_FILE) == 0o600


def test_database_errors_reach_the_log_without_the_record_values(logged):
    """A store error's detail goes to the log (app/store/database.py): the statement and
    the error, not the client's values it was sent with."""
    import sqlalchemy as sa

    from app.store.database import describe_error

    engine = sa.create_engine("sqlite://")
    with engine.begin() as db:
        db.execute(sa.text("CREATE TABLE clients (name TEXT UNIQUE)"))
        db.execute(sa.text("INSERT INTO clients VALUES (:n)"), {"n": SECRET})
    try:
        with engine.begin() as db:
            db.execute(sa.text("INSERT INTO clients VALUES (:n)"), {"n": SECRET})
    except sa.exc.IntegrityError as exc:
        error = exc
    assert SECRET in str(error)  # what SQLAlchemy would have put in the log
    describe_error(error)
    logging.getLogger("app.store.writer").error("store writer: refused", exc_info=error)
    engine.dispose()
    text = logged.read_text()
    assert "UNIQUE constraint failed: clients.name" in text
    assert "[SQL: INSERT INTO clients VALUES (?)]" in text
    assert "[parameters withheld]" in text
    assert "sqlalchemy.exc.IntegrityError (message not logged)" in text
    assert "Jane" not in text


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            'duplicate key value violates unique constraint "clients_email_key"\n'
            "DETAIL:  Key (email)=(jane@example.org) already exists.",
            'duplicate key value violates unique constraint "clients_email_key"\n'
            "DETAIL:  Key (email)=(withheld) already exists.",
        ),
        (
            "DETAIL:  Key (name, birth)=(Jane (Jo) Doe, 1970-01-01) already exists.",
            "DETAIL:  Key (name, birth)=(withheld) already exists.",
        ),
        (
            'null value in column "x" violates not-null constraint\n'
            "DETAIL:  Failing row contains (7, Jane Doe, null).",
            'null value in column "x" violates not-null constraint\n'
            "DETAIL:  Failing row contains (withheld).",
        ),
        (
            "[SQL: UPDATE clients SET notes=? WHERE id=?]\n[parameters: ('pregnant', 3)]\n"
            "(Background on this error at: https://sqlalche.me/e/20/gkpj)",
            "[SQL: UPDATE clients SET notes=? WHERE id=?]\n[parameters withheld]\n"
            "(Background on this error at: https://sqlalche.me/e/20/gkpj)",
        ),
    ],
)
def test_record_values_quoted_by_a_database_are_withheld(message, shown):
    assert failures.redact(message) == shown


@pytest.mark.qt_no_exception_capture
def test_when_nothing_can_stop_the_output_the_dialog_says_so(qtbot, guard, logged):
    def broken() -> None:
        raise RuntimeError("link " + "gone")

    guard.install(faults=False)
    guard.stops = [broken, broken]
    guard.excepthook(ValueError, ValueError(SECRET), None)
    box = guard.box
    assert box is not None
    assert "could not stop the output: switch the device off now" in box.text()
    assert logged.read_text().count("stopping the output failed (RuntimeError)") == 2
