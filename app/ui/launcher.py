"""Starts the console window (``python -m app`` / ``python main.py``)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication

from app import APP_NAME, ORG_NAME, __version__, paths
from app.ui.style import STYLE_SHEET

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_S = 30.0
RECORDS_AFTER_MS = 1500  # open the client records by then even without live data
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def make_application(argv: list[str] | None = None) -> QApplication:
    # Qt's own dialogs, never the platform's native ones: Esc (the emergency stop) must
    # reach the console's key filter while a file dialog is open
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs, True)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE_SHEET)
    return app


def log_handlers() -> list[logging.Handler]:
    """Standard error, and the console's rotating log file (0600 in a 0700 folder): the
    full detail of problems shown on screen in words (app/ui/failures.py)."""
    from app.ui.failures import PrivateFormatter, log_file_handler

    stderr = logging.StreamHandler()
    stderr.setFormatter(PrivateFormatter(LOG_FORMAT))
    handlers: list[logging.Handler] = [stderr]
    try:
        handlers.append(log_file_handler())
    except OSError as exc:
        print(f"warning: no log file: {exc.strerror or exc}", file=sys.stderr)
    return handlers


def console_settings() -> QSettings:
    return QSettings(str(paths.settings_file()), QSettings.Format.IniFormat)


def run_console(args: argparse.Namespace) -> int:
    simulator = None
    if args.port is None:
        # Spawned first: its own start-up (Python, numpy) runs on the other core while
        # this process imports Qt, opens the records and builds the window.
        from app.device.firmware import simulator_args_for
        from app.device.sim_process import SimulatorError, SimulatorProcess

        rate = getattr(args, "sample_rate", None)
        if rate is not None and not 100 <= rate <= 50_000:
            print(f"error: --sample-rate {rate} is outside 100 to 50000 S/s", file=sys.stderr)
            return 2
        simulator = SimulatorProcess(simulator_args_for(rate) if rate else [])
        try:
            simulator.spawn()
        except SimulatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            simulator = None
    logging.basicConfig(level=logging.INFO, handlers=log_handlers())
    app = make_application()
    # Every failure into the log file from here on; once the window exists, an unexpected
    # exception stops any output first and then points to the log (app/ui/failures.py).
    from app.ui import failures

    guard = failures.install()
    from app.ui.device_manager import DeviceManager
    from app.ui.main_window import MainWindow

    if args.demo and args.port:
        print(
            "error: --demo runs only on the built-in simulator, never on a real device "
            "(drop --port)",
            file=sys.stderr,
        )
        return 2
    device = DeviceManager()
    # The client records open in the background once the window shows (importing the
    # database layer and migrating take about a second): live data is on screen first.
    # the window fits the screen, its frame included (not a screenshot's: offscreen)
    window = MainWindow(
        device, console_settings(), records_pending=True, fit_screen=not args.screenshot
    )
    records = RecordsOpener(args.database_url, announce=bool(args.screenshot))
    records.opened.connect(window.attach_store)
    records.failed.connect(window.store_unavailable)
    failures.attach(guard, window, dialog=not args.screenshot)
    if args.screenshot:  # non-interactive: an operator may sign in from the environment
        window.interactive = False
    result = {"code": 0}
    bench_shown: list[Callable[[], None]] = []  # a screenshot waits for the bench too
    if args.workspace == "technician":
        # The bench is for a technician or a manager signed in, which needs the records
        # (they open in the background): enter once they are open (or could not be).
        def enter_bench(*_: object) -> None:
            if not window.switch_workspace(args.workspace):
                print(f"error: could not open the {args.workspace} workspace", file=sys.stderr)
                result["code"] = 2
                app.exit(2)
                return
            for shown in bench_shown:
                shown()

        records.opened.connect(enter_bench, Qt.ConnectionType.QueuedConnection)
        records.failed.connect(enter_bench, Qt.ConnectionType.QueuedConnection)
    elif args.workspace and not window.switch_workspace(args.workspace):
        print(f"error: could not open the {args.workspace} workspace", file=sys.stderr)
        if simulator is not None:
            simulator.stop()
        return 2
    if args.demo:
        window.demo_mode = True
    window.show()
    if args.screenshot:
        bench = args.workspace == "technician"
        shown = _arm_screenshot(window, Path(args.screenshot), args.after, result, wait=bench)
        if bench:
            bench_shown.append(shown)
    # Open the device once the event loop runs, so the window paints at once. The records
    # open once live data shows (their import would compete with it for the interpreter),
    # or when the device cannot be opened, or after RECORDS_AFTER_MS whatever happens.
    baud = getattr(args, "baud", None) or 921_600
    QTimer.singleShot(0, lambda: device.open(args.port, simulator=simulator, baud=baud))
    window.live_data_seen.connect(records.start)
    device.failed.connect(records.start)
    QTimer.singleShot(RECORDS_AFTER_MS, records.start)
    app.aboutToQuit.connect(device.close)
    code = app.exec()
    records.finish()
    guard.uninstall()
    return result["code"] or code


class RecordsOpener(QObject):
    """Opens the client records on a short-lived thread; ``opened(store)`` or
    ``failed(message)`` arrive queued in the GUI thread."""

    opened = Signal(object)  # RunningStore
    failed = Signal(str)

    def __init__(self, url: str | None, announce: bool = False) -> None:
        """``announce``: print a line when done (``--screenshot`` runs; timed by benches)."""
        super().__init__()
        self.url = url
        self.announce = announce
        self.store = None
        self.seconds: float | None = None  # how long opening took
        self._thread: threading.Thread | None = None
        self._delivered = False
        self.opened.connect(self._mark_delivered)

    def _mark_delivered(self, _store) -> None:
        self._delivered = True

    def start(self, *_: object) -> None:
        """Open the records (once; later calls do nothing)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="records-open")
        self._thread.start()

    def _run(self) -> None:
        t0 = time.monotonic()
        store, error = open_records(self.url)
        self.seconds = time.monotonic() - t0
        self.store = store
        if self.announce:
            print("client records " + ("open" if store is not None else "unavailable"), flush=True)
        if store is not None:
            log.info("client records open (%.2f s)", self.seconds)
            self.opened.emit(store)
        else:
            self.failed.emit(error)

    def finish(self) -> None:
        """After the event loop: wait for the thread; close a store the window never got
        (the console quit while the records were still opening)."""
        if self._thread is not None:
            self._thread.join()
        if self.store is not None and not self._delivered:
            self.store.close(10.0)


def open_records(url: str | None):
    """The client records store, or (None, why) — the console still opens without it."""
    from app.store.database import StoreError
    from app.store.runtime import start_store

    try:
        return start_store(url), ""
    except StoreError as exc:
        log.error("records store unavailable: %s", exc)
        print(f"error: client records are unavailable: {exc}", file=sys.stderr)
        return None, str(exc)


def _arm_screenshot(
    window, path: Path, after_s: float, result: dict, *, wait: bool = False
) -> Callable[[], None]:
    """Save a PNG of the window ``after_s`` seconds after live data shows, then quit.
    ``wait``: the workspace asked for opens only once the records have (the bench): the
    picture waits for it too, until the returned function is called."""
    waiting = {"live data from the device", "the workspace asked for"} if wait else set()
    waiting.add("live data from the device")

    def shoot() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(str(path)):
            print(f"screenshot saved to {path}", flush=True)
        else:
            print(f"error: could not write the screenshot to {path}", file=sys.stderr)
            result["code"] = 1
        window.device.close()
        QApplication.quit()

    def give_up() -> None:
        print(
            f"error: no {' nor '.join(sorted(waiting))} within {SCREENSHOT_TIMEOUT_S:.0f} s; "
            "no screenshot taken",
            file=sys.stderr,
        )
        result["code"] = 1
        window.device.close()
        QApplication.quit()

    deadline = QTimer(window)
    deadline.setSingleShot(True)
    deadline.timeout.connect(give_up)
    deadline.start(int(SCREENSHOT_TIMEOUT_S * 1000))

    def seen(what: str) -> None:
        if what not in waiting:
            return
        waiting.discard(what)
        if not waiting:
            deadline.stop()
            QTimer.singleShot(int(after_s * 1000), shoot)

    window.live_data_seen.connect(lambda: seen("live data from the device"))
    return lambda: seen("the workspace asked for")
