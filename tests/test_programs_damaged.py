"""A damaged custom program file is listed as damaged, with the reason; the library (and
the console's desk, the program editor and the CLI) still load."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings

from app.__main__ import main
from app.engine.programs import ProgramError, builtin_dir, load_library, load_program_file

DEPTH = 100_000


def _valid() -> dict:
    return json.loads((builtin_dir() / "eye_area.json").read_text(encoding="utf-8"))


def _with_raw(where: str, key: str, raw: str) -> str:
    """The valid program's JSON with ``raw`` (JSON text) as the value of ``key`` (in the
    first step, or the program itself)."""
    data = _valid()
    (data["steps"][0] if where == "step" else data)[key] = "@@RAW@@"
    return json.dumps(data).replace('"@@RAW@@"', raw)


def _damaged_files() -> dict[str, bytes]:
    huge_int = _with_raw("step", "amplitude_ua", "9" * 400)  # too large for a float
    deep = _with_raw("program", "sources", "[" * DEPTH + "]" * DEPTH)
    many_digits = _with_raw("step", "duration_s", "1" * 5000)  # over int parsing's limit
    nan = _with_raw("step", "duration_s", "NaN")
    return {
        "huge_int.json": huge_int.encode(),
        "deep.json": deep.encode(),
        "bare_deep.json": ("[" * DEPTH + "]" * DEPTH).encode(),
        "latin1.json": json.dumps(_valid()).replace("Eye", "\u00c6ye").encode("latin-1"),
        "many_digits.json": many_digits.encode(),
        "nan.json": nan.encode(),
        "binary.json": bytes(range(256)) * 4,
        "empty.json": b"",
        "null.json": b"null",
    }


@pytest.fixture
def damaged_library(tmp_settings):
    folder = tmp_settings / "programs"
    folder.mkdir(parents=True)
    for name, data in _damaged_files().items():
        (folder / name).write_bytes(data)
    good = _valid()
    good["name"] = "My gentle eyes"
    (folder / "my_eyes.json").write_text(json.dumps(good), encoding="utf-8")
    return folder


def test_each_damaged_file_is_listed_with_its_reason_and_loading_never_raises(damaged_library):
    for name in _damaged_files():  # one file at a time: always a ProgramError
        with pytest.raises(ProgramError):
            load_program_file(damaged_library / name, builtin=False)
    library = load_library()
    errors = {e.file.rsplit("/", 1)[-1]: e.message for e in library.errors}
    assert set(errors) == set(_damaged_files())
    assert "a number is too large" in errors["huge_int.json"]
    assert "nested too deeply" in errors["deep.json"]
    assert "nested too deeply" in errors["bare_deep.json"]
    assert "not UTF-8" in errors["latin1.json"]
    assert "too many digits" in errors["many_digits.json"]
    assert "not a number" in errors["nan.json"] or "outside" in errors["nan.json"]
    assert "not valid JSON" in errors["empty.json"]
    ids = {p.id for p in library.programs}
    assert "my_eyes" in ids
    assert {p.id for p in library.programs if p.builtin} >= {"eye_area", "full_face_lift"}


def test_a_file_too_big_to_be_a_program_is_not_read(damaged_library):
    (damaged_library / "big.json").write_bytes(b" " * 2_000_000 + b"{}")
    errors = {e.file.rsplit("/", 1)[-1]: e.message for e in load_library().errors}
    assert "too large to be a program" in errors["big.json"]


def test_the_console_desk_and_the_editor_load_with_damaged_files(
    qtbot, damaged_library, tmp_path, capsys
):
    from app.ui.device_manager import DeviceManager
    from app.ui.main_window import MainWindow
    from app.ui.program_editor import ProgramEditorDialog

    window = MainWindow(
        DeviceManager(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    practitioner = window.workspaces["practitioner"]
    assert "my_eyes" in practitioner.programs
    assert practitioner.program_box.findData("full_face_lift") >= 0
    dialog = ProgramEditorDialog("eye_area", parent=window)
    qtbot.addWidget(dialog)
    assert main(["programs", "list"]) == 0
    out = capsys.readouterr()
    assert "my_eyes" in out.out
    assert "nested too deeply" in out.out + out.err
