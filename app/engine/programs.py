"""Treatment programs: a versioned JSON schema, a validating loader, custom programs.

Pure, no Qt. docs/programs.md is the normative description of the schema. A program's
id is its file name without ``.json``. Built-in programs live in resources/programs/;
custom programs (cloned and edited by the practitioner) in ``<data dir>/programs/``.

Every error is a :class:`ProgramError` naming the file, the step (1-based, as shown to
the practitioner) and the field.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app import paths
from app.device.waveform import OutputSettings, Polarity, Waveform
from app.engine import zone_ids
from app.engine.parameters import RANGES, TreatmentParameters, check_number

SCHEMA_VERSION = 1
MAX_PROGRAM_S = 1200.0  # 20 minutes: the devices' automatic off
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
CITATION = re.compile(r"\[([a-z0-9_]+)\]")  # "[nuface]" in a note cites sources[].key

TECHNIQUES = ("hold", "lift_and_hold", "glide")
DIRECTIONS = ("none", "upward", "downward", "inward", "outward", "toward_lymph_nodes")
WAVEFORMS = {w.name.lower(): w for w in Waveform}
POLARITIES = {p.name.lower(): p for p in Polarity}

PROGRAM_FIELDS = {"schema_version", "name", "description", "notes", "sources", "steps"}
REQUIRED_PROGRAM_FIELDS = ("schema_version", "name", "description", "notes", "steps")
STEP_FIELDS = {
    "name",
    "zones",
    "side",
    "technique",
    "direction",
    "waveform",
    "frequency_hz",
    "amplitude_ua",
    "polarity",
    "alternate_s",
    "ramp_s",
    "duration_s",
    "instructions",
}
REQUIRED_STEP_FIELDS = (
    "name",
    "zones",
    "side",
    "technique",
    "direction",
    "waveform",
    "frequency_hz",
    "amplitude_ua",
    "polarity",
    "duration_s",
)
STEP_DEFAULTS = {"alternate_s": 2.0, "ramp_s": 1.0, "instructions": ""}


class ProgramError(ValueError):
    """A program that does not follow the schema: names file, step and field."""

    def __init__(
        self, file: str, message: str, *, step: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.step = step
        self.field = field
        self.message = message
        where = file
        if step is not None:
            where += f": step {step}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class ProgramStep:
    name: str
    muscles: tuple[str, ...]  # empty: the practitioner chooses the zone (manual work)
    side: str
    technique: str
    direction: str
    output: OutputSettings
    duration_s: float
    instructions: str = ""

    @property
    def zones(self) -> tuple[str, ...]:
        """The face-map zone ids this step covers."""
        out: list[str] = []
        for m in self.muscles:
            out.extend(zone_ids.zone_ids_for(m, self.side))
        return tuple(out)

    @property
    def amplitude_ua(self) -> float:
        return self.output.amplitude_ua

    def parameters(self, electrode_area_cm2: float) -> TreatmentParameters:
        return TreatmentParameters(self.output, self.duration_s, electrode_area_cm2)

    def to_json(self) -> dict[str, Any]:
        o = self.output
        return {
            "name": self.name,
            "zones": list(self.muscles),
            "side": self.side,
            "technique": self.technique,
            "direction": self.direction,
            "waveform": o.waveform.name.lower(),
            "frequency_hz": o.frequency_hz,
            "amplitude_ua": o.amplitude_ua,
            "polarity": o.polarity.name.lower(),
            "alternate_s": o.alternate_s,
            "ramp_s": o.ramp_s,
            "duration_s": self.duration_s,
            "instructions": self.instructions,
        }


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    description: str
    notes: tuple[str, ...]
    steps: tuple[ProgramStep, ...]
    sources: tuple[dict[str, str], ...] = ()
    builtin: bool = True
    path: Path | None = field(default=None, compare=False)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "notes": list(self.notes),
            "sources": [dict(s) for s in self.sources],
            "steps": [s.to_json() for s in self.steps],
        }


# --------------------------------------------------------------------------- parsing


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _text(
    file: str, obj: dict, key: str, step: int | None = None, *, allow_empty: bool = False
) -> str:
    v = obj[key]
    if not isinstance(v, str):
        raise ProgramError(file, f"expected text, got {type(v).__name__}", step=step, field=key)
    if not allow_empty and not v.strip():
        raise ProgramError(file, "must not be empty", step=step, field=key)
    return v


def _choice(file: str, obj: dict, key: str, choices, step: int) -> str:
    v = obj[key]
    if not isinstance(v, str) or v not in choices:
        raise ProgramError(file, f"{v!r} is not one of: {', '.join(choices)}", step=step, field=key)
    return v


def _number(file: str, obj: dict, key: str, step: int) -> float:
    issue = check_number(key, obj[key])
    if issue is not None:
        raise ProgramError(file, issue.message, step=step, field=key)
    return float(obj[key])


def _parse_step(file: str, raw: object, n: int) -> ProgramStep:
    if not isinstance(raw, dict):
        raise ProgramError(file, f"a step must be an object, got {type(raw).__name__}", step=n)
    unknown = sorted(set(raw) - STEP_FIELDS)
    if unknown:
        raise ProgramError(
            file,
            "unknown field (allowed: " + ", ".join(sorted(STEP_FIELDS)) + ")",
            step=n,
            field=unknown[0],
        )
    for key in REQUIRED_STEP_FIELDS:
        if key not in raw:
            raise ProgramError(file, "required field is missing", step=n, field=key)
    raw = {**STEP_DEFAULTS, **raw}
    name = _text(file, raw, "name", n)
    side = _choice(file, raw, "side", tuple(zone_ids.SIDES), n)
    muscles = raw["zones"]
    if not isinstance(muscles, list) or not all(isinstance(m, str) for m in muscles):
        raise ProgramError(file, "expected a list of muscle names", step=n, field="zones")
    for m in muscles:
        try:
            zone_ids.zone_ids_for(m, side)
        except ValueError as exc:
            raise ProgramError(file, str(exc), step=n, field="zones") from None
    if len(set(muscles)) != len(muscles):
        raise ProgramError(file, "a muscle is listed twice", step=n, field="zones")
    technique = _choice(file, raw, "technique", TECHNIQUES, n)
    direction = _choice(file, raw, "direction", DIRECTIONS, n)
    if technique == "glide" and direction == "none":
        raise ProgramError(file, "a glide needs a direction", step=n, field="direction")
    waveform = WAVEFORMS[_choice(file, raw, "waveform", tuple(WAVEFORMS), n)]
    polarity = POLARITIES[_choice(file, raw, "polarity", tuple(POLARITIES), n)]
    values = {
        k: _number(file, raw, k, n)
        for k in ("frequency_hz", "amplitude_ua", "alternate_s", "ramp_s", "duration_s")
    }
    if values["amplitude_ua"] <= 0:
        raise ProgramError(
            file,
            f"0 µA delivers nothing (allowed {RANGES['amplitude_ua'].text()}, above 0)",
            step=n,
            field="amplitude_ua",
        )
    instructions = _text(file, raw, "instructions", n, allow_empty=True)
    output = OutputSettings(
        waveform,
        values["frequency_hz"],
        values["amplitude_ua"],
        polarity,
        values["alternate_s"],
        values["ramp_s"],
    )
    return ProgramStep(
        name, tuple(muscles), side, technique, direction, output, values["duration_s"], instructions
    )


def parse_program(
    data: object, file: str, program_id: str, *, builtin: bool = True, path: Path | None = None
) -> Program:
    """Validate decoded JSON ``data`` as a program; ProgramError names what is wrong."""
    if not ID_PATTERN.match(program_id):
        raise ProgramError(
            file,
            f"program id {program_id!r} (the file name) must be lower-case "
            "letters, digits and underscores, starting with a letter or digit",
        )
    if not isinstance(data, dict):
        raise ProgramError(file, f"the file must hold a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - PROGRAM_FIELDS)
    if unknown:
        raise ProgramError(
            file,
            "unknown field (allowed: " + ", ".join(sorted(PROGRAM_FIELDS)) + ")",
            field=unknown[0],
        )
    for key in REQUIRED_PROGRAM_FIELDS:
        if key not in data:
            raise ProgramError(file, "required field is missing", field=key)
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise ProgramError(
            file,
            f"version {version!r} is not supported (this console reads version {SCHEMA_VERSION})",
            field="schema_version",
        )
    name = _text(file, data, "name")
    description = _text(file, data, "description")
    notes = data["notes"]
    if isinstance(notes, str):
        notes = [notes]
    if (
        not isinstance(notes, list)
        or not notes
        or not all(isinstance(n, str) and n.strip() for n in notes)
    ):
        raise ProgramError(
            file,
            "expected a non-empty list of texts (where each parameter choice comes from)",
            field="notes",
        )
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(
        isinstance(s, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in s.items())
        for s in sources
    ):
        raise ProgramError(
            file, "expected a list of objects of texts (key, title, url, used_for)", field="sources"
        )
    keys = {src.get("key") for src in sources}
    for note in notes:
        for key in CITATION.findall(note):
            if key not in keys:
                raise ProgramError(
                    file, f'a note cites [{key}], but no source has "key": "{key}"', field="notes"
                )
    steps_raw = data["steps"]
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ProgramError(file, "expected a non-empty list of steps", field="steps")
    steps = tuple(_parse_step(file, s, i + 1) for i, s in enumerate(steps_raw))
    total = sum(s.duration_s for s in steps)
    if total > MAX_PROGRAM_S:
        raise ProgramError(
            file,
            f"the steps last {total:g} s in total, more than the "
            f"{MAX_PROGRAM_S:g} s (20 min) automatic off",
            field="duration_s",
        )
    return Program(
        program_id,
        name,
        description,
        tuple(notes),
        steps,
        tuple(dict(s) for s in sources),
        builtin,
        path,
    )


MAX_FILE_BYTES = 1_000_000  # a program is a few kB; anything this big is not one


def load_program_file(path: Path | str, *, builtin: bool = True) -> Program:
    """The program in ``path``; any problem with the file is a ProgramError with the reason
    (never another exception: a damaged file must not stop the console)."""
    path = Path(path)
    file = str(path)
    try:
        return _load_program_file(path, file, builtin)
    except ProgramError:
        raise
    except RecursionError:
        raise ProgramError(file, "damaged: the JSON is nested too deeply to be a program") from None
    except OverflowError:
        raise ProgramError(
            file, "damaged: a number is too large (beyond any floating-point value)"
        ) from None
    except ValueError as exc:
        reason = (
            "a number has too many digits"
            if "digits" in str(exc)
            else f"a value is out of range ({_short(exc)})"
        )
        raise ProgramError(file, f"damaged: {reason}") from None
    except MemoryError:
        raise ProgramError(file, "damaged: too large to be a program") from None
    except Exception as exc:  # noqa: BLE001 - whatever else is wrong, the file is damaged
        raise ProgramError(
            file, f"damaged: cannot be read as a program ({type(exc).__name__}: {_short(exc)})"
        ) from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _load_program_file(path: Path, file: str, builtin: bool) -> Program:
    if path.suffix.lower() != ".json":
        raise ProgramError(file, "a program file must end in .json")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProgramError(
                file,
                f"damaged: {size:,} bytes is too large to be a program "
                f"(at most {MAX_FILE_BYTES:,})",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgramError(file, "no such file") from None
    except UnicodeDecodeError as exc:
        raise ProgramError(
            file, f"cannot read the file: not UTF-8 text (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ProgramError(file, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgramError(
            file, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return parse_program(data, file, path.stem, builtin=builtin, path=path)


# --------------------------------------------------------------------------- library


def builtin_dir() -> Path:
    return paths.resources_dir() / "programs"


def custom_dir() -> Path:
    return paths.data_dir() / "programs"


@dataclass
class LibraryListing:
    programs: list[Program]
    errors: list[ProgramError]


def load_library() -> LibraryListing:
    """Every built-in and custom program; broken files are listed in ``errors``."""
    programs: list[Program] = []
    errors: list[ProgramError] = []
    seen: set[str] = set()
    for folder, builtin in ((builtin_dir(), True), (custom_dir(), False)):
        try:
            if not folder.is_dir():
                continue
            files = sorted(folder.glob("*.json"))
        except OSError as exc:
            errors.append(
                ProgramError(str(folder), f"cannot read the folder: {exc.strerror or exc}")
            )
            continue
        for path in files:
            try:
                program = load_program_file(path, builtin=builtin)
            except ProgramError as exc:  # (load_program_file raises nothing else)
                errors.append(exc)
                continue
            if program.id in seen:
                errors.append(
                    ProgramError(
                        str(path),
                        f"id {program.id!r} is already used by a "
                        "built-in program; this file is ignored",
                    )
                )
                continue
            seen.add(program.id)
            programs.append(program)
    return LibraryListing(programs, errors)


def load_program(program_id: str) -> Program:
    for folder, builtin in ((builtin_dir(), True), (custom_dir(), False)):
        path = folder / f"{program_id}.json"
        if path.is_file():
            return load_program_file(path, builtin=builtin)
    raise ProgramError(f"{program_id}.json", f"no program with id {program_id!r}")


def clone_program(program: Program, new_id: str, new_name: str | None = None) -> Program:
    """A custom copy of ``program`` under ``new_id`` (validated when saved)."""
    return replace(
        program, id=new_id, name=new_name or f"{program.name} (copy)", builtin=False, path=None
    )


def replace_step(program: Program, index: int, **changes: Any) -> Program:
    """A copy of ``program`` with step ``index`` (0-based) changed; JSON field names.

    The result is checked against the schema; ProgramError names the step and field.
    """
    data = program.to_json()
    if not 0 <= index < len(data["steps"]):
        raise ProgramError(program.id, f"there is no step {index + 1}", step=index + 1)
    data["steps"][index].update(changes)
    return parse_program(data, f"{program.id}.json", program.id, builtin=False)


def save_custom_program(program: Program) -> Path:
    """Validate and write ``program`` to the custom folder; returns the file path.

    A custom program may not take a built-in program's id. The file is written
    atomically (temporary file, then rename).
    """
    file = f"{program.id}.json"
    data = program.to_json()
    parse_program(json.loads(json.dumps(data)), file, program.id, builtin=False)
    if (builtin_dir() / file).exists():
        raise ProgramError(
            file, f"{program.id!r} is a built-in program id; choose another name for the copy"
        )
    folder = custom_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{program.id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def delete_custom_program(program_id: str) -> Path:
    """Take a custom program out of the library; returns where its file was kept.

    The file is not destroyed: it moves to ``deleted/`` inside the custom folder, with the
    time of deletion in its name, so a technician can restore it (sessions recorded with
    it keep naming its id). Built-in programs cannot be deleted.
    """
    file = f"{program_id}.json"
    if (builtin_dir() / file).exists():
        raise ProgramError(
            file, f"{program_id!r} is a built-in program; only custom programs can be deleted"
        )
    source = custom_dir() / file
    if not source.is_file():
        raise ProgramError(file, f"there is no custom program {program_id!r}")
    trash = custom_dir() / "deleted"
    trash.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = trash / f"{program_id}.{stamp}.json"
    n = 1
    while target.exists():
        n += 1
        target = trash / f"{program_id}.{stamp}-{n}.json"
    os.replace(source, target)
    return target
