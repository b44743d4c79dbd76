"""Scope statistics describe delivered output: idle captures are not accumulated."""

from __future__ import annotations

import numpy as np

from app.device.protocol import SampleFlag
from app.device.samples import SampleBlock
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.widget import ScopeWidget

FS = 10_000.0


def _block(first: int, n: int, on: bool) -> SampleBlock:
    t = (first + np.arange(n)) / FS
    cur = (
        np.where(np.mod(t * 50, 1) < 0.5, 100.0, -100.0)
        if on
        else np.random.default_rng(first).normal(0.8, 0.1, n)
    ).astype(np.float32)
    flags = np.full(
        n,
        int(SampleFlag.OUTPUT_ON | SampleFlag.CONTACT) if on else int(SampleFlag.CONTACT),
        np.uint8,
    )
    sync = np.zeros(n, bool)
    if on:
        sync[np.flatnonzero(np.diff(np.floor(t * 50), prepend=np.floor(t[0] * 50) - 1))] = True
    return SampleBlock(
        first, FS, cur, cur * 0.02, np.full(n, 100 if on else 0, np.float32), flags, sync
    )


def _feed(qtbot, scope: ScopeWidget, start: int, on: bool, clock, frames: int = 20) -> int:
    for k in range(frames):
        scope.append(_block(start + k * 500, 500, on))
        clock[0] += 0.25  # a quarter second per frame: auto-trigger and measuring are due
        scope.render_frame()
    return start + frames * 500


def test_idle_captures_are_not_in_the_statistics(qtbot, monkeypatch):
    import app.scope.core.trigger as trigger_mod
    import app.scope.widget as widget_mod

    clock = [1000.0]
    for mod in (widget_mod, trigger_mod):
        monkeypatch.setattr(mod.time, "monotonic", lambda: clock[0])
    scope = ScopeWidget()
    qtbot.addWidget(scope)
    scope.resize(900, 500)
    scope.set_reference(OutputSettings(Waveform.SQUARE, 50.0, 100.0, Polarity.BIPHASIC, 2.0, 0))
    nxt = _feed(qtbot, scope, 0, on=False, clock=clock)
    assert scope.last_measurements  # the idle captures were measured
    assert scope.stats.captures == 0  # measured and shown, not accumulated
    _feed(qtbot, scope, nxt, on=True, clock=clock)
    assert scope.stats.captures > 0
    lo, _mean, hi, _n = scope.stats.summary("frequency_hz")
    assert 49 < lo <= hi < 51  # only the 50 Hz output, none of the idle noise
