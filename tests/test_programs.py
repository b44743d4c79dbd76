"""Program files: the built-in library, each kind of error, custom programs, the CLI."""

from __future__ import annotations

import json

import pytest
from test_engine_support import program_data, step

from app.__main__ import main
from app.engine.guided import GuidedRun
from app.engine.programs import (
    ProgramError,
    builtin_dir,
    clone_program,
    load_library,
    load_program,
    load_program_file,
    replace_step,
    save_custom_program,
)

REQUIRED = {
    "full_face_lift",
    "toning",
    "lymphatic_drainage",
    "fine_lines",
    "eye_area",
    "jawline_neck",
    "manual",
}


def test_builtin_library_loads_cleanly():
    library = load_library()
    assert library.errors == []
    ids = {p.id for p in library.programs}
    assert ids >= REQUIRED
    for p in library.programs:
        assert 0 < p.duration_s <= 1200, p.id
        assert p.notes
        assert p.sources, f"{p.id} cites no sources"
        for s in p.steps:
            assert s.amplitude_ua <= 400, (p.id, s.name)


def test_full_face_lift_goes_from_neck_up_to_forehead():
    p = load_program("full_face_lift")
    assert p.steps[0].muscles == ("platysma",)
    assert p.steps[-1].muscles == ("frontalis",)
    assert p.steps[0].zones == ("platysma_l", "platysma_r")


def test_eye_steps_of_builtins_stay_under_the_eye_limit():
    for p in load_library().programs:
        for s in p.steps:
            if any(z.startswith(("orbicularis_oculi", "corrugator")) for z in s.zones):
                assert s.amplitude_ua <= 200, (p.id, s.name)


def write(tmp_path, data, name="prog.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def with_step(**changes):
    s = step()
    for k, v in changes.items():
        if v is KeyError:
            del s[k]
        else:
            s[k] = v
    return program_data([step("First"), s])


# (data, step, field, message fragment)
ERRORS = [
    ("{not json", None, None, "not valid JSON: Expecting property name"),
    ([1, 2], None, None, "must hold a JSON object, got list"),
    ({**program_data(), "extra": 1}, None, "extra", "unknown field"),
    (
        {k: v for k, v in program_data().items() if k != "name"},
        None,
        "name",
        "required field is missing",
    ),
    ({**program_data(), "schema_version": 2}, None, "schema_version", "version 2 is not supported"),
    ({**program_data(), "name": ""}, None, "name", "must not be empty"),
    ({**program_data(), "notes": []}, None, "notes", "non-empty list of texts"),
    ({**program_data(), "sources": ["x"]}, None, "sources", "list of objects"),
    ({**program_data(), "steps": []}, None, "steps", "non-empty list of steps"),
    (
        {**program_data(), "notes": ["200 µA [school]"]},
        None,
        "notes",
        'a note cites [school], but no source has "key": "school"',
    ),
    ({**program_data(), "steps": ["x"]}, 1, None, "a step must be an object"),
    (
        with_step(frequency_hz=2000),
        2,
        "frequency_hz",
        "2000 Hz is outside the allowed range 0.5–1500 Hz",
    ),
    (with_step(frequency_hz="ten"), 2, "frequency_hz", "'ten' is not a number"),
    (with_step(amplitude_ua=700), 2, "amplitude_ua", "outside the allowed range 0–600 µA"),
    (with_step(amplitude_ua=0), 2, "amplitude_ua", "0 µA delivers nothing"),
    (with_step(duration_s=True), 2, "duration_s", "True is not a number"),
    (with_step(ramp_s=20), 2, "ramp_s", "outside the allowed range 0–10 s"),
    (with_step(alternate_s=0), 2, "alternate_s", "outside the allowed range 0.1–60 s"),
    (with_step(waveform="triangle"), 2, "waveform", "'triangle' is not one of: square"),
    (with_step(polarity="ac"), 2, "polarity", "'ac' is not one of: positive"),
    (with_step(technique="tap"), 2, "technique", "'tap' is not one of: hold"),
    (with_step(direction="up"), 2, "direction", "'up' is not one of: none"),
    (with_step(technique="glide", direction="none"), 2, "direction", "a glide needs a direction"),
    (with_step(side="top"), 2, "side", "'top' is not one of: left"),
    (with_step(zones=["nose"]), 2, "zones", "unknown muscle 'nose'"),
    (with_step(zones="masseter"), 2, "zones", "expected a list of muscle names"),
    (with_step(zones=["masseter", "masseter"]), 2, "zones", "listed twice"),
    (with_step(zones=["procerus"], side="left"), 2, "zones", "midline muscle"),
    (with_step(zones=["frontalis"], side="midline"), 2, "zones", "has a left and a right"),
    (with_step(duration_s=KeyError), 2, "duration_s", "required field is missing"),
    (with_step(colour="red"), 2, "colour", "unknown field"),
    (with_step(name=5), 2, "name", "expected text, got int"),
    (
        program_data([step(duration=700), step(duration=600)]),
        None,
        "duration_s",
        "1300 s in total, more than the 1200 s (20 min) automatic off",
    ),
]


@pytest.mark.parametrize(
    ("data", "step_no", "field", "fragment"),
    ERRORS,
    ids=[f"{i}-{e[2] or 'file'}" for i, e in enumerate(ERRORS)],
)
def test_each_kind_of_error_is_refused_with_file_step_and_field(
    tmp_path, data, step_no, field, fragment
):
    path = write(tmp_path, data)
    with pytest.raises(ProgramError) as err:
        load_program_file(path)
    e = err.value
    assert (e.step, e.field) == (step_no, field)
    assert fragment in e.message
    text = str(e)
    assert text.startswith(str(path))
    if step_no is not None:
        assert f"step {step_no}" in text
    if field is not None:
        assert f"field '{field}'" in text


def test_file_name_rules(tmp_path):
    with pytest.raises(ProgramError, match="must end in .json"):
        load_program_file(write(tmp_path, program_data(), "prog.toml"))
    with pytest.raises(ProgramError, match="program id 'Bad-Name'"):
        load_program_file(write(tmp_path, program_data(), "Bad-Name.json"))
    with pytest.raises(ProgramError, match="no such file"):
        load_program_file(tmp_path / "missing.json")
    bad = tmp_path / "latin.json"
    bad.write_bytes(b"\xff\xfe{")
    with pytest.raises(ProgramError, match="cannot read the file"):
        load_program_file(bad)


def test_clone_edit_save_and_reload(tmp_settings):
    original = load_program("eye_area")
    copy = clone_program(original, "my_eyes", "My eyes")
    copy = replace_step(copy, 0, amplitude_ua=60, duration_s=100)
    path = save_custom_program(copy)
    assert path.parent == tmp_settings / "programs"
    again = load_program("my_eyes")
    assert not again.builtin
    assert again.name == "My eyes"
    assert again.steps[0].amplitude_ua == 60
    assert again.steps[1:] == original.steps[1:]
    assert "my_eyes" in {p.id for p in load_library().programs}


def test_edits_are_validated_like_files(tmp_settings):
    copy = clone_program(load_program("toning"), "strong")
    with pytest.raises(ProgramError) as err:
        replace_step(copy, 2, amplitude_ua=900)
    assert (err.value.step, err.value.field) == (3, "amplitude_ua")
    with pytest.raises(ProgramError, match="there is no step 9"):
        replace_step(copy, 8, amplitude_ua=100)
    with pytest.raises(ProgramError, match="is a built-in program id"):
        save_custom_program(clone_program(copy, "toning"))
    with pytest.raises(ProgramError, match="program id 'Bad id'"):
        save_custom_program(clone_program(copy, "Bad id"))
    assert not (tmp_settings / "programs" / "toning.json").exists()


def test_a_broken_custom_file_is_listed_as_an_error(tmp_settings):
    folder = tmp_settings / "programs"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{}", encoding="utf-8")
    (folder / "manual.json").write_text(
        (builtin_dir() / "manual.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    library = load_library()
    messages = [str(e) for e in library.errors]
    assert any(
        "broken.json: field 'schema_version': required field is missing" in m for m in messages
    )
    assert any("already used by a built-in program" in m for m in messages)


# ---------------------------------------------------------------- guided run


def test_guided_run_counts_down_and_moves_between_steps():
    run = GuidedRun(load_program("eye_area"))
    first = run.step.duration_s
    assert not run.advance(first - 1)
    v = run.view()
    assert v.step_remaining_s == pytest.approx(1)
    assert v.step_index == 0
    assert 0 < v.session_progress < v.step_progress < 1
    assert run.advance(2)  # into step 2 (the overshoot is not carried)
    assert run.index == 1
    assert run.step_elapsed_s == 0
    run.advance(10)
    run.repeat()
    assert (run.index, run.step_elapsed_s) == (1, 0)
    run.back()
    run.back()
    assert run.index == 0
    for _ in range(run.step_count):
        run.skip()
    v = run.view()
    assert v.finished
    assert v.session_progress == 1.0
    assert v.session_remaining_s == 0
    assert not run.skip()
    assert not run.advance(5)


def test_guided_view_remaining_time():
    run = GuidedRun(load_program("toning"))
    total = run.program.duration_s
    run.advance(30)
    assert run.view().session_remaining_s == pytest.approx(total - 30)
    assert run.view().zones == ("platysma_l", "platysma_r")


# ---------------------------------------------------------------- command line


def test_cli_list(capsys):
    assert main(["programs", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "NAME", "STEPS", "DURATION", "SOURCE"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert set(rows) >= REQUIRED
    assert "18:00" in rows["full_face_lift"]
    assert " 15 " in rows["full_face_lift"]


def test_cli_check_valid(capsys):
    assert main(["programs", "check", str(builtin_dir() / "toning.json")]) == 0
    assert "valid program 'toning'" in capsys.readouterr().out


def test_cli_check_invalid_names_file_step_field(tmp_path, capsys):
    path = write(tmp_path, with_step(frequency_hz=5000))
    assert main(["programs", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: step 2: field 'frequency_hz': 5000 Hz")
    assert "Traceback" not in err


def test_cli_without_action_explains(capsys):
    assert main(["programs"]) == 2
    assert "choose an action" in capsys.readouterr().err


def test_cli_show(capsys):
    assert main(["programs", "show", "eye_area"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("eye_area: Eye area (6 steps, 15:00)")
    assert "orbicularis_oculi_l orbicularis_oculi_r" in out
    assert main(["programs", "show", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no program with id 'nope'" in err
    assert "Known: eye_area" in err
