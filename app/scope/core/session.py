"""Saved scope sessions: captures, settings and history entries in one file. Pure numpy.

File format (version 1): a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, read with
``allow_pickle=False``: no code is ever run from a file) holding

* ``header``: UTF-8 JSON as a 1-D uint8 array::

    {"format": "microcurrent-scope-session", "version": 1,
     "saved": "2026-12-05T03:10:00+0000",
     "settings": {"time_base_s_per_div": 0.02, ...},       # the scope's settings
     "output": {"waveform": "SQUARE", "frequency_hz": 10, ...} | null,
     "shown": 3,                                           # the capture on screen
     "captures": [{"sample_rate": 10000, "start_index": 123, "trigger_offset": 100,
                   "triggered": true, "wall_time": 1764900000.0,
                   "pinned": false, "label": "after gel", "metadata": {...}}, ...]}

* per capture ``k``: ``c{k}_current`` and ``c{k}_voltage`` (float32), optionally
  ``c{k}_reference`` (float32) and ``c{k}_flags`` (uint8), all of the same length.

:func:`load_session` checks everything before anything is used — the archive, the
header, every field's type and range, every array's name, type, shape and size (also
before it is decompressed) — and raises :class:`SessionFileError` naming the first
problem (file, capture, field). Settings keys it does not know are ignored (a newer
console may add some); a newer format version is refused with a message saying so.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.device.waveform import OutputSettings, Polarity, Waveform
from app.scope.core.capture import Capture
from app.scope.core.history import MAX_LABEL, HistoryEntry, clean_label

FORMAT = "microcurrent-scope-session"
VERSION = 1
SUFFIX = ".mcscope"
MAX_CAPTURES = 64
MAX_SAMPLES = 2_000_000  # per capture (the ring holds 1 Mi samples)
MAX_TOTAL_BYTES = 600_000_000  # all arrays, decompressed
COMPRESS_BELOW_BYTES = 50_000_000  # larger sessions are stored uncompressed (fast)
MAX_HEADER_BYTES = 4_000_000
MAX_META = 100  # metadata entries per capture
MAX_TEXT = 500  # characters of a metadata value

#: settings keys and their types (bool is checked before int: JSON true is not a number)
SETTINGS_TYPES: dict[str, tuple[type, ...]] = {
    "time_base_s_per_div": (float,),
    "current_scale_ua_per_div": (float,),
    "current_offset_ua": (float,),
    "voltage_scale_v_per_div": (float,),
    "voltage_offset_v": (float,),
    "trigger_mode": (str,),
    "trigger_source": (str,),
    "trigger_edge": (str,),
    "trigger_level": (float,),
    "trigger_pre_fraction": (float,),
    "trigger_holdoff_s": (float,),
    "mask_enabled": (bool,),
    "mask_tolerance_pct": (float,),
    "reference_shown": (bool,),
    "average_count": (int,),
    "persistence": (bool,),
    "persistence_half_life_s": (float,),
    "zoom_s": (list,),
}


class SessionFileError(ValueError):
    """A session file that cannot be loaded; the message names the file and the problem."""


@dataclass(slots=True)
class ScopeSession:
    entries: list[HistoryEntry]
    settings: dict[str, Any] = field(default_factory=dict)
    output: OutputSettings | None = None
    shown: int = -1
    saved: str = ""


# --------------------------------------------------------------------------- writing
def output_to_json(s: OutputSettings) -> dict[str, Any]:
    return {
        "waveform": s.waveform.name,
        "frequency_hz": float(s.frequency_hz),
        "amplitude_ua": float(s.amplitude_ua),
        "polarity": s.polarity.name,
        "alternate_s": float(s.alternate_s),
        "ramp_s": float(s.ramp_s),
    }


def session_header(session: ScopeSession) -> dict[str, Any]:
    caps = []
    for e in session.entries:
        c = e.capture
        caps.append(
            {
                "sample_rate": float(c.sample_rate),
                "start_index": int(c.start_index),
                "trigger_offset": int(c.trigger_offset),
                "triggered": bool(c.triggered),
                "wall_time": float(c.wall_time),
                "pinned": bool(e.pinned),
                "label": clean_label(e.label),
                "metadata": {str(k): str(v) for k, v in c.metadata.items()},
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "saved": session.saved or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": dict(session.settings),
        "output": None if session.output is None else output_to_json(session.output),
        "shown": int(session.shown),
        "captures": caps,
    }


def save_session(path: str | Path, session: ScopeSession) -> Path:
    """Write ``session`` (created readable by its owner only: it holds a treatment's
    current and voltage). The file is written whole or not at all."""
    from app.paths import open_private

    if not session.entries:
        raise ValueError("nothing to save: no captures")
    if len(session.entries) > MAX_CAPTURES:
        raise ValueError(f"at most {MAX_CAPTURES} captures in a session file")
    arrays: dict[str, np.ndarray] = {}
    header = json.dumps(session_header(session), allow_nan=False).encode("utf-8")
    arrays["header"] = np.frombuffer(header, dtype=np.uint8)
    for k, e in enumerate(session.entries):
        c = e.capture
        arrays[f"c{k}_current"] = np.asarray(c.current_ua, dtype=np.float32)
        arrays[f"c{k}_voltage"] = np.asarray(c.voltage_v, dtype=np.float32)
        if c.reference_ua is not None:
            arrays[f"c{k}_reference"] = np.asarray(c.reference_ua, dtype=np.float32)
        if c.flags is not None:
            arrays[f"c{k}_flags"] = np.asarray(c.flags, dtype=np.uint8)
    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    try:
        total = sum(a.nbytes for a in arrays.values())
        # compressed when small (the usual time bases); stored when large, where deflating
        # noisy float32 samples would hold the screen for seconds and save little
        save = np.savez_compressed if total <= COMPRESS_BELOW_BYTES else np.savez
        with open_private(tmp, "wb") as fh:
            save(fh, **arrays)  # type: ignore[arg-type]
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


# --------------------------------------------------------------------------- reading
def _number(where: str, value: object, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SessionFileError(f"{where} must be a number, found {type(value).__name__}")
    if integer and not isinstance(value, int):
        raise SessionFileError(f"{where} must be a whole number, found {value!r}")
    if not math.isfinite(value):
        raise SessionFileError(f"{where} must be a finite number")
    return value


def _output_from_json(where: str, raw: object) -> OutputSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SessionFileError(f"{where} must be an object or null")
    try:
        waveform = Waveform[str(raw.get("waveform"))]
    except KeyError:
        raise SessionFileError(
            f"{where}.waveform must be one of {', '.join(w.name for w in Waveform)}"
        ) from None
    try:
        polarity = Polarity[str(raw.get("polarity"))]
    except KeyError:
        raise SessionFileError(
            f"{where}.polarity must be one of {', '.join(p.name for p in Polarity)}"
        ) from None
    values = {}
    for key in ("frequency_hz", "amplitude_ua", "alternate_s", "ramp_s"):
        if key not in raw:
            raise SessionFileError(f"{where}.{key} is missing")
        x = _number(f"{where}.{key}", raw[key])
        if x < 0 or x > 1e6:
            raise SessionFileError(f"{where}.{key} is out of range ({x:g})")
        values[key] = float(x)
    if values["frequency_hz"] <= 0:
        raise SessionFileError(f"{where}.frequency_hz must be positive")
    return OutputSettings(waveform=waveform, polarity=polarity, **values)


def _settings(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SessionFileError(f"{where} must be an object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        types = SETTINGS_TYPES.get(key)
        if types is None:
            continue  # a newer console's setting: ignored
        w = f"{where}.{key}"
        if types == (bool,):
            if not isinstance(value, bool):
                raise SessionFileError(f"{w} must be true or false")
            out[key] = value
        elif types == (str,):
            if not isinstance(value, str) or len(value) > 40:
                raise SessionFileError(f"{w} must be a short text")
            out[key] = value
        elif types == (int,):
            out[key] = int(_number(w, value, integer=True))
        elif types == (float,):
            out[key] = float(_number(w, value))
        elif types == (list,):
            if value is None:
                out[key] = None
                continue
            if not (isinstance(value, list) and len(value) == 2):
                raise SessionFileError(f"{w} must be a pair of numbers or null")
            lo, hi = (_number(w, v) for v in value)
            if not hi > lo:
                raise SessionFileError(f"{w} must be an increasing pair")
            out[key] = (float(lo), float(hi))
    return out


def _open(p: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(p)
    except FileNotFoundError:
        raise SessionFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise SessionFileError(f"{p}: is a folder, not a scope session") from None
    except zipfile.BadZipFile:
        raise SessionFileError(
            f"{p}: not a scope session file (not a .npz archive; damaged or another kind)"
        ) from None
    except OSError as exc:
        raise SessionFileError(f"{p}: cannot read ({exc.strerror or exc})") from None


def _read_array(zf: zipfile.ZipFile, p: Path, name: str) -> np.ndarray:
    """One .npy member: its header is checked before its data is read."""
    try:
        with zf.open(name + ".npy") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise SessionFileError(f"{p}: array {name} has an unknown layout")
            if dtype.hasobject:
                raise SessionFileError(f"{p}: array {name} holds objects, not numbers")
            if len(shape) != 1:
                raise SessionFileError(f"{p}: array {name} must be one-dimensional")
            n = int(shape[0])
            limit = MAX_HEADER_BYTES if name == "header" else MAX_SAMPLES * 4
            if n * dtype.itemsize > limit:
                raise SessionFileError(f"{p}: array {name} is too large ({n} values)")
            data = fh.read(n * dtype.itemsize)
            if len(data) != n * dtype.itemsize:
                raise SessionFileError(f"{p}: array {name} is cut short")
            return np.frombuffer(data, dtype=dtype).copy()
    except SessionFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SessionFileError(f"{p}: array {name} is damaged ({exc})") from None


def load_session(path: str | Path) -> ScopeSession:
    """Read and check a session file; raise SessionFileError naming what is wrong."""
    p = Path(path)
    with _open(p) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        if "header.npy" not in infos:
            raise SessionFileError(f"{p}: no header (not a scope session file)")
        total = sum(i.file_size for i in infos.values())
        if total > MAX_TOTAL_BYTES:
            raise SessionFileError(
                f"{p}: the arrays would take {total / 1e6:.0f} MB (at most "
                f"{MAX_TOTAL_BYTES / 1e6:.0f} MB)"
            )
        raw = _read_array(zf, p, "header")
        if raw.dtype != np.uint8:
            raise SessionFileError(f"{p}: the header is not text")
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionFileError(f"{p}: the header is not valid JSON ({exc})") from None
        except RecursionError:
            raise SessionFileError(f"{p}: the header is nested too deeply") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SessionFileError(f"{p}: not a scope session file (format tag missing)")
        version = header.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SessionFileError(f"{p}: the format version is missing")
        if version > VERSION:
            raise SessionFileError(
                f"{p}: saved by a newer console (format version {version}; this one reads "
                f"up to {VERSION})"
            )
        if version < 1:
            raise SessionFileError(f"{p}: unknown format version {version}")
        settings = _settings(f"{p}: settings", header.get("settings", {}))
        output = _output_from_json(f"{p}: output", header.get("output"))
        caps = header.get("captures")
        if not isinstance(caps, list) or not caps:
            raise SessionFileError(f"{p}: the file holds no captures")
        if len(caps) > MAX_CAPTURES:
            raise SessionFileError(f"{p}: {len(caps)} captures (at most {MAX_CAPTURES})")
        entries = [_entry(zf, p, k, c, set(infos)) for k, c in enumerate(caps)]
        shown = header.get("shown", len(entries) - 1)
        if isinstance(shown, bool) or not isinstance(shown, int):
            raise SessionFileError(f"{p}: 'shown' must be a capture number")
        if not 0 <= shown < len(entries):
            shown = len(entries) - 1
        saved = header.get("saved", "")
        return ScopeSession(
            entries=entries,
            settings=settings,
            output=output,
            shown=shown,
            saved=saved if isinstance(saved, str) else "",
        )


def _entry(zf: zipfile.ZipFile, p: Path, k: int, raw: object, names: set[str]) -> HistoryEntry:
    where = f"{p}: capture {k + 1}"
    if not isinstance(raw, dict):
        raise SessionFileError(f"{where} must be an object")
    fs = _number(f"{where} sample_rate", raw.get("sample_rate"))
    if not 0 < fs <= 1e7:
        raise SessionFileError(f"{where}: sample_rate must be 0..10 MS/s, found {fs:g}")
    start = int(_number(f"{where} start_index", raw.get("start_index", 0), integer=True))
    trig = int(_number(f"{where} trigger_offset", raw.get("trigger_offset"), integer=True))
    wall = _number(f"{where} wall_time", raw.get("wall_time", 0.0))
    if not 0 <= wall < 1e11:  # seconds since 1970: up to the year 5000
        raise SessionFileError(f"{where}: wall_time {wall:g} is not a time")
    if abs(start) > 2**62:
        raise SessionFileError(f"{where}: start_index is out of range")
    flags_ok = {"triggered": True, "pinned": False}
    bools = {}
    for key, default in flags_ok.items():
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise SessionFileError(f"{where}: {key} must be true or false")
        bools[key] = value
    label = raw.get("label", "")
    if not isinstance(label, str) or len(label) > 4 * MAX_LABEL:
        raise SessionFileError(f"{where}: label must be a short text")
    meta_raw = raw.get("metadata", {})
    if not isinstance(meta_raw, dict) or len(meta_raw) > MAX_META:
        raise SessionFileError(f"{where}: metadata must be an object of at most {MAX_META}")
    meta = {}
    for mk, mv in meta_raw.items():
        if not isinstance(mv, str) or len(mv) > MAX_TEXT or len(mk) > 80:
            raise SessionFileError(f"{where}: metadata '{str(mk)[:40]}' must be a short text")
        meta[mk] = mv
    arrays: dict[str, np.ndarray | None] = {}
    for part, required in (("current", True), ("voltage", True), ("reference", False)):
        name = f"c{k}_{part}"
        if name + ".npy" not in names:
            if required:
                raise SessionFileError(f"{where}: the {part} samples are missing")
            arrays[part] = None
            continue
        a = _read_array(zf, p, name)
        if a.dtype.kind != "f":
            raise SessionFileError(f"{where}: the {part} samples are not numbers")
        if np.isinf(a).any():
            raise SessionFileError(f"{where}: the {part} samples hold infinite values")
        arrays[part] = a.astype(np.float32)
    flags = None
    if f"c{k}_flags.npy" in names:
        flags = _read_array(zf, p, f"c{k}_flags")
        if flags.dtype != np.uint8:
            raise SessionFileError(f"{where}: the flags are not bytes")
    cur, volt = arrays["current"], arrays["voltage"]
    if cur is None or volt is None:  # pragma: no cover - required parts are checked above
        raise SessionFileError(f"{where}: the samples are missing")
    n = cur.shape[0]
    if n < 2:
        raise SessionFileError(f"{where}: fewer than two samples")
    others: tuple[tuple[str, np.ndarray | None], ...] = (
        ("voltage", volt),
        ("reference", arrays["reference"]),
        ("flags", flags),
    )
    for part, other in others:
        if other is not None and other.shape[0] != n:
            raise SessionFileError(
                f"{where}: {other.shape[0]} {part} values for {n} current samples"
            )
    if abs(trig) > 10 * MAX_SAMPLES:
        raise SessionFileError(f"{where}: trigger_offset is out of range")
    cap = Capture(
        sample_rate=float(fs),
        start_index=start,
        trigger_offset=trig,
        current_ua=cur,
        voltage_v=volt,
        reference_ua=arrays["reference"],
        flags=flags,
        triggered=bools["triggered"],
        wall_time=float(wall),
        metadata=meta,
    )
    return HistoryEntry(cap, pinned=bools["pinned"], label=clean_label(label))
