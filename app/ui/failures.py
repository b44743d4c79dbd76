"""Observable failures: the console's log file, and what happens on an unexpected exception.

In a clinic nobody reads a terminal, so everything that goes wrong ends in the console's
log file, ``logs/console.log`` in the data folder (0600 in a 0700 folder; rotated at 1 MB,
five old files kept, each 0600 too):

* ``sys.excepthook``: an exception nobody caught — in a slot, a virtual method, a
  ``QThread.run``, or at start-up;
* ``threading.excepthook``: an exception that ended a Python thread;
* a Qt message handler (``qInstallMessageHandler``): Qt's own warnings and errors;
* ``faulthandler``: a hard crash (segmentation fault, abort) dumps every thread's Python
  stack to ``logs/faults.log`` (0600), which a log file cannot do.

An unexpected exception first stops any output (the main window's ``emergency_stop()``,
ESTOP through the engine's output authority; if that fails, the authority directly), then
shows a short non-modal dialog that points to the log file. Exceptions in other threads
are logged there and the stop and the dialog follow in the GUI thread.

No health data in the log: an exception is logged as its type and its traceback (files,
lines, functions, source lines), never its message or any variable's value, which may
hold a client's name or a record's values. The log's formatter (:class:`PrivateFormatter`)
does the same for every traceback any module logs, and withholds the record values a
database error quotes (SQLAlchemy's ``[parameters: …]``, PostgreSQL's ``Key (…)=(…)`` and
``Failing row contains (…)``).

Everything here is installed by :func:`install` in ``run_console`` only (never at
import): the test suite keeps pytest-qt's own message handler and exception capture,
and installs and uninstalls this explicitly (``FailureGuard.uninstall`` restores what was
there before).
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import logging
import logging.handlers
import re
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app import paths

log = logging.getLogger("app.failures")
qt_log = logging.getLogger("qt")

LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 5
FAULTS_FILE = "faults.log"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the current one and each new one after a rollover)
    is created readable by its owner only (0600), whatever the umask."""

    def _open(self) -> io.TextIOWrapper:
        paths.create_private(Path(self.baseFilename))
        return super()._open()


# Where a database driver's or SQLAlchemy's message quotes a record's values.
_REDACT = (
    (re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL | re.MULTILINE), "[parameters withheld]"),
    (re.compile(r"\)=\((?:[^()]|\([^()]*\))*\)"), ")=(withheld)"),  # PostgreSQL: Key (name)=(…)
    (re.compile(r"(Failing row contains )\(.*\)"), r"\1(withheld)"),
)


def redact(text: str) -> str:
    """``text`` without the record values a database error quotes (its parameters, a
    PostgreSQL DETAIL's key values or failing row)."""
    for pattern, replacement in _REDACT:
        text = pattern.sub(replacement, text)
    return text


class PrivateFormatter(logging.Formatter):
    """The log's formatter: tracebacks as types and frames (:func:`describe_exception`,
    never an exception's message), and the record values a database error quotes
    withheld, whichever module logged them."""

    def formatException(self, ei) -> str:  # logging's name for it
        exc_type, exc, tb = ei
        if exc_type is None:
            return ""
        return describe_exception(exc_type, exc, tb)

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have formatted the record first and cached its full
        # traceback (with the message) in exc_text: always describe it afresh.
        cached = record.exc_text
        record.exc_text = None
        try:
            return redact(super().format(record))
        finally:
            record.exc_text = cached


def log_file_handler(path: Path | None = None) -> logging.Handler:
    """The console's rotating log file handler (``paths.log_file()`` by default)."""
    handler = PrivateRotatingFileHandler(
        path or paths.log_file(), maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(PrivateFormatter(LOG_FORMAT))
    return handler


def describe_exception(
    exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
) -> str:
    """The exception's type and traceback, its causes' too, without any message: a
    message may quote a client's name or a record's values."""
    parts: list[str] = []
    seen: set[int] = set()

    def walk(
        kind: type[BaseException], value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if value is not None:
            if id(value) in seen:
                return
            seen.add(id(value))
            cause = value.__cause__ or (None if value.__suppress_context__ else value.__context__)
            if cause is not None:
                walk(type(cause), cause, cause.__traceback__)
                parts.append(
                    "\nwhich led to:\n"
                    if value.__cause__ is not None
                    else "\nduring whose handling:\n"
                )
        parts.append("Traceback (most recent call last):\n")
        parts.extend(
            traceback.StackSummary.extract(traceback.walk_tb(trace), capture_locals=False).format()
        )
        parts.append(f"{kind.__module__}.{kind.__qualname__} (message not logged)\n")

    walk(exc_type, exc, tb)
    return "".join(parts).rstrip("\n")


class FailureGuard(QObject):
    """The hooks that send every failure to the log, and the reaction to one in the GUI:
    stop any output, then a dialog that points to the log.

    ``stops`` are tried in order until one returns without raising (the window's
    ``emergency_stop``, then the output authority's ``estop``); ``dialog_parent`` is the dialog's
    window; ``dialog`` False: only log and stop (nobody can answer, e.g. ``--screenshot``).
    """

    failed = Signal(str)  # the exception's type name; queued to the GUI thread

    def __init__(self, log_path: Path, faults_path: Path | None = None) -> None:
        super().__init__()
        self.log_path = Path(log_path)
        self.faults_path = faults_path
        self.stops: Sequence[Callable[[], object]] = ()
        self.dialog_parent: QWidget | None = None
        self.dialog = True
        self.box: QMessageBox | None = None
        self.failures = 0  # unexpected exceptions seen
        self._installed = False
        self._handling = threading.local()
        self._previous_excepthook: Callable[..., Any] | None = None
        self._previous_threading_hook: Callable[..., Any] | None = None
        self._previous_qt_handler: Any = None
        self._qt_installed = False
        self._faults_file: IO[str] | None = None
        self._faulthandler_was_enabled = False
        self.failed.connect(self._react)  # AutoConnection: queued from other threads

    # --- hooks -------------------------------------------------------------------------

    def install(self, *, faults: bool = True, qt_messages: bool = True) -> FailureGuard:
        if self._installed:
            return self
        self._previous_excepthook = sys.excepthook
        self._previous_threading_hook = threading.excepthook
        sys.excepthook = self.excepthook
        threading.excepthook = self.threading_excepthook
        if qt_messages:
            self._previous_qt_handler = qInstallMessageHandler(self.qt_message)
            self._qt_installed = True
        if faults and self.faults_path is not None:
            self._faulthandler_was_enabled = faulthandler.is_enabled()
            try:
                paths.create_private(self.faults_path)
                self._faults_file = open(self.faults_path, "a", encoding="utf-8")  # noqa: SIM115
                faulthandler.enable(file=self._faults_file, all_threads=True)
            except OSError as exc:
                log.warning("no crash dump file: %s", exc.strerror or type(exc).__name__)
        self._installed = True
        return self

    def uninstall(self) -> None:
        """Put back the hooks that were there before :meth:`install`."""
        if not self._installed:
            return
        self._installed = False
        if sys.excepthook == self.excepthook:
            sys.excepthook = self._previous_excepthook or sys.__excepthook__
        if threading.excepthook == self.threading_excepthook:
            threading.excepthook = self._previous_threading_hook or threading.__excepthook__
        if self._qt_installed:  # None puts back Qt's default handler
            qInstallMessageHandler(self._previous_qt_handler)
            self._qt_installed = False
        self._previous_qt_handler = None
        if self._faults_file is not None:
            faulthandler.disable()
            if self._faulthandler_was_enabled and sys.__stderr__ is not None:
                faulthandler.enable(file=sys.__stderr__, all_threads=True)
            self._faults_file.close()
            self._faults_file = None

    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """``sys.excepthook``: log, then stop and tell (in the GUI thread). Never raises."""
        if issubclass(exc_type, KeyboardInterrupt):
            self._call_previous(exc_type, exc, tb)
            return
        self._handle(exc_type, exc, tb, where=threading.current_thread().name)

    def threading_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self._handle(args.exc_type, args.exc_value, args.exc_traceback, where=name)

    def qt_message(self, mode: QtMsgType, context: Any, message: str) -> None:
        """The Qt message handler: Qt's warnings and errors into the log."""
        try:
            where = ""
            if context is not None and getattr(context, "category", None) not in (None, "default"):
                where = f" [{context.category}]"
            qt_log.log(_QT_LEVELS.get(mode, logging.WARNING), "%s%s", message, where)
        except Exception:  # a log handler must never raise into Qt
            with contextlib.suppress(Exception):
                sys.__stderr__.write(f"Qt: {message}\n")  # type: ignore[union-attr]

    # --- the reaction ------------------------------------------------------------------

    def _handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        where: str,
    ) -> None:
        if getattr(self._handling, "active", False):  # failed while handling a failure
            self._call_previous(exc_type, exc, tb)
            return
        self._handling.active = True
        try:
            self.failures += 1
            try:
                log.critical(
                    "unexpected %s in %s:\n%s",
                    exc_type.__name__,
                    where,
                    describe_exception(exc_type, exc, tb),
                )
            except Exception:  # the log itself failed: say so on stderr
                self._call_previous(exc_type, exc, tb)
            if self._in_gui_thread():
                self._react(exc_type.__name__)
            else:
                self.failed.emit(exc_type.__name__)
        except Exception:  # the hook must never raise
            with contextlib.suppress(Exception):
                self._call_previous(exc_type, exc, tb)
        finally:
            self._handling.active = False

    def _call_previous(
        self, exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(Exception):
            sys.__excepthook__(exc_type, exc or exc_type(), tb)

    @staticmethod
    def _in_gui_thread() -> bool:
        app = QApplication.instance()
        if app is None:
            return threading.current_thread() is threading.main_thread()
        from PySide6.QtCore import QThread

        return QThread.currentThread() is app.thread()

    def _react(self, kind: str) -> None:
        """In the GUI thread: stop any output first, then the dialog."""
        stopped = self.stop_output()
        if self.dialog:
            try:
                self.show_dialog(stopped)
            except Exception as exc:  # no dialog; the log has it all
                log.error("could not show the failure dialog: %s", type(exc).__name__)

    def stop_output(self) -> bool:
        """Try each stop in turn until one works; True if one did."""
        for stop in self.stops:
            try:
                stop()
                return True
            except Exception as exc:  # try the next way to stop
                log.critical(
                    "stopping the output failed (%s):\n%s",
                    type(exc).__name__,
                    describe_exception(type(exc), exc, exc.__traceback__),
                )
        return False

    def show_dialog(self, stopped: bool = True) -> None:
        """A short non-modal message pointing to the log (one at a time); ``stopped``:
        whether the output could be stopped (else it says to switch the device off)."""
        if QApplication.instance() is None:
            return
        if self.box is not None and self.box.isVisible():
            return
        box = QMessageBox(self.dialog_parent)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Unexpected error")
        if stopped:
            box.setText("Something went wrong inside the console. Any output was stopped.")
            then = "You may carry on once the device has been reset."
        else:
            box.setText(
                "Something went wrong inside the console, and it could not stop "
                "the output: switch the device off now."
            )
            then = "Restart the console before you carry on."
        box.setInformativeText(
            "The details are in the log file:\n"
            f"{self.log_path}\n\n"
            f"Give that file to your technician. {then}"
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setModal(False)  # never blocks the STOP button, Esc or the event loop
        box.show()
        # ...but it takes the keyboard: Enter dismisses it, never presses the desk's
        # focused button behind it (a Start) as a real window saw
        box.raise_()
        box.activateWindow()
        ok = box.button(QMessageBox.StandardButton.Ok)
        if ok is not None:
            ok.setFocus()
        self.box = box


def install(window: object | None = None, *, dialog: bool = True) -> FailureGuard:
    """Install the console's failure hooks (``run_console``): the log file's handler must
    already be on the root logger (:func:`log_file_handler`). ``window``: the main window,
    whose ``emergency_stop()`` (then its authority's ``estop()``) stops the output."""
    log_path = paths.log_file()
    guard = FailureGuard(log_path, faults_path=paths.private_dir(log_path.parent) / FAULTS_FILE)
    guard.install()
    if window is not None:
        attach(guard, window, dialog=dialog)
    return guard


def attach(guard: FailureGuard, window: Any, *, dialog: bool = True) -> None:
    stops: list[Callable[[], object]] = [window.emergency_stop]
    authority = getattr(window, "authority", None)
    if authority is not None:
        stops.append(authority.estop)
    guard.stops = stops
    guard.dialog_parent = window
    guard.dialog = dialog
