"""`python -m app bench estop`: emergency-stop latency, console request -> zero output.

The real console window (offscreen) runs against the simulator process over a
pseudo-terminal. Each round: reset, start at 300 µA (no ramp), wait for output, then
press the console's emergency stop (``MainWindow.emergency_stop``, what Esc does) and
find the first sample at zero.

``p50_ms``/``p99_ms``/``max_ms``: from the request to the moment the device's output is
zero, on the device's sample clock. The sample clock is mapped to the host clock by the
earliest arrival of any block (arrival minus the time of its last sample), which puts
every sample at or after its true time: the figures are upper bounds.
``e2e_p50_ms``/``e2e_p99_ms``: until the console has the zero samples in hand (includes
UART pacing, one 5 ms frame and the driver's batching for the display).
"""

from __future__ import annotations

import argparse
import math
import time

ROUNDS = 100
ZERO_UA = 2.0  # |I| below this is "zero output" (noise + offset are well below)
ON_UA = 150.0
MIN_ZERO_RUN = 20


def run(args: argparse.Namespace | None = None) -> dict:
    from PySide6.QtCore import QSettings

    from app.bench._qt import application, percentile, spin_until
    from app.device.protocol import DeviceState
    from app.device.waveform import OutputSettings, Polarity, Waveform
    from app.engine.authority import Driver
    from app.ui.device_manager import DeviceManager
    from app.ui.main_window import MainWindow

    rounds = int(getattr(args, "rounds", None) or ROUNDS)
    application()
    import tempfile

    tmp = tempfile.TemporaryDirectory()
    device = DeviceManager()
    window = MainWindow(device, QSettings(f"{tmp.name}/s.ini", QSettings.Format.IniFormat))
    # A technician's test on the bench: the treatment desk lends the device (outside a
    # session it would emergency-stop output it did not start itself).
    # built without records: nobody signs in, the bench is not gated
    window.switch_workspace("technician")
    window.show()
    state = {"offset": math.inf, "blocks": []}

    def on_block(block) -> None:
        last_t = (block.first_index + len(block)) / block.sample_rate
        state["offset"] = min(state["offset"], block.received_at - last_t)
        state["blocks"].append(block)

    try:
        if not device.open(None):
            return {"error": "could not start the simulator", "passed": False}
        link = device.link
        link.samples_received.connect(on_block)
        if not spin_until(lambda: device.info is not None, 15):
            return {"error": "no device", "passed": False}
        settings = OutputSettings(Waveform.SQUARE, 50.0, 300.0, Polarity.BIPHASIC, 2.0, 0.0)
        port = window.authority.port(Driver.BENCH)  # as the manual output panel asks
        latencies: list[float] = []
        e2e: list[float] = []
        failures = 0
        reasons: list[str] = []
        for _ in range(rounds):
            if device.state is not None and device.state != DeviceState.IDLE:
                port.reset()
                spin_until(lambda: device.state == DeviceState.IDLE, 3)
            port.request_start_with(settings)  # START once the device took the settings
            state["blocks"] = []
            ok = spin_until(
                lambda: any(
                    float(abs(b.current_ua).min()) > ON_UA
                    for b in state["blocks"][-3:]
                    if len(b) > 50
                ),
                3,
            )
            if not ok:
                failures += 1
                reasons.append(f"no output after start (state {device.state})")
                continue
            t_request = time.monotonic()
            window.emergency_stop()
            seen = len(state["blocks"])
            found: list[tuple[float, float]] = []

            def check(t: float = t_request, start: int = seen, found: list = found) -> bool:
                z = _first_zero(state["blocks"][start:], state["offset"], t)
                if z is not None:
                    found.append(z)
                return bool(found)

            spin_until(check, 2)
            if not found:
                failures += 1
                reasons.append(f"no zero output within 2 s (state {device.state})")
                continue
            z = found[0]
            spin_until(lambda: device.state == DeviceState.ESTOPPED, 2)
            latencies.append(max(0.0, (z[0] - t_request) * 1000.0))
            e2e.append((z[1] - t_request) * 1000.0)
        result = {
            "n": len(latencies),
            "failed_rounds": failures,
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2) if latencies else None,
            "e2e_p50_ms": round(percentile(e2e, 50), 2),
            "e2e_p99_ms": round(percentile(e2e, 99), 2),
            "target_p99_ms": 20.0,
            "failures": sorted(set(reasons))[:5],
        }
        result["passed"] = bool(latencies) and failures == 0 and result["p99_ms"] <= 20.0
        return result
    finally:
        device.close()
        window.close()
        tmp.cleanup()


def _first_zero(blocks, offset: float, t_request: float) -> tuple[float, float] | None:
    """(host time the output became zero, arrival of that block), or None if not yet.

    Zero means |I| < ZERO_UA from that sample for at least MIN_ZERO_RUN samples (the
    biphasic test waveform is never at zero for more than one sample while on).
    """
    import numpy as np

    if not blocks:
        return None
    i = np.abs(np.concatenate([b.current_ua for b in blocks]))
    idx = np.concatenate([b.first_index + np.arange(len(b)) for b in blocks])
    arrival = np.concatenate([np.full(len(b), b.received_at) for b in blocks])
    fs = blocks[0].sample_rate
    produced = (idx + 1) / fs + offset
    zero = i < ZERO_UA
    for k in np.flatnonzero(zero & (produced >= t_request - 1.0 / fs)):
        run = zero[k : k + MIN_ZERO_RUN]
        if run.size == MIN_ZERO_RUN and run.all():
            return float(produced[k]), float(arrival[k + MIN_ZERO_RUN - 1])
    return None
