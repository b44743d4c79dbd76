"""The custom program editor: clone, edit, validate like the loader, save, reload."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QMessageBox, QStyleOptionViewItem

from app.engine.programs import (
    ProgramError,
    custom_dir,
    load_library,
    load_program,
    replace_step,
)
from app.ui.program_editor import (
    COLUMN_OF_FIELD,
    CloneDialog,
    MuscleChooser,
    ProgramEditorDialog,
    describe_error,
    parse_number,
    slug,
)


@pytest.fixture(autouse=True)
def never_block_on_a_question(monkeypatch):
    """Closing a dialog with unsaved edits asks; in tests the answer is Discard."""
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)


@pytest.fixture
def editor(qtbot, tmp_settings):
    dialog = ProgramEditorDialog("eye_area")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def cell(dialog, row, field):
    return dialog.model.index(row, COLUMN_OF_FIELD[field])


# ------------------------------------------------------------------ pure helpers


def test_parse_number_accepts_decimal_comma_and_keeps_text():
    assert parse_number(" 12,5 ") == 12.5
    assert parse_number("-3") == -3.0
    assert parse_number("ten") == "ten"
    assert parse_number("") == ""


def test_slug_proposes_a_valid_id():
    assert slug("Eye area (my version)") == "eye_area_my_version"
    assert slug("  ") == ""
    assert len(slug("x" * 200)) == 64


def test_describe_error_names_step_and_field():
    exc = ProgramError("p.json", "0 Hz is outside", step=2, field="frequency_hz")
    text = describe_error(exc, [{"name": "a"}, {"name": "Brow"}])
    assert text == "Step 2 “Brow”, Freq. Hz (frequency_hz): 0 Hz is outside"
    assert describe_error(ProgramError("p.json", "must not be empty", field="name")) == (
        "Name: must not be empty"
    )


# ------------------------------------------------------------------ built-ins are read-only


def test_builtins_cannot_be_edited(editor):
    assert editor.current.id == "eye_area"
    assert editor.current.builtin
    assert editor.readonly_note.isVisibleTo(editor)
    assert editor.name_edit.isReadOnly()
    assert editor.notes_edit.isReadOnly()
    for col in range(editor.model.columnCount()):
        assert not editor.model.flags(editor.model.index(0, col)) & Qt.ItemFlag.ItemIsEditable
    assert not editor.model.set_field(0, "amplitude_ua", "50")
    assert editor.model.step(0)["amplitude_ua"] == 100
    for button in (
        editor.save_button,
        editor.add_button,
        editor.remove_button,
        editor.muscles_button,
    ):
        assert not button.isEnabled()
    assert not editor.save()
    assert not custom_dir().exists() or not list(custom_dir().glob("*.json"))


# ------------------------------------------------------------------ clone, edit, save


def test_clone_edit_save_and_reload(editor, qtbot):
    editor.clone_current("my_eye_area", "Eye area (gentle)")
    assert editor.current.id == "my_eye_area"
    assert not editor.current.builtin
    assert not editor.readonly_note.isVisibleTo(editor)
    assert editor.save_button.isEnabled()  # a clone is not on disk yet

    assert editor.model.set_field(1, "amplitude_ua", "70")
    assert editor.model.set_field(1, "duration_s", "90")
    assert editor.error_text.startswith("✓")
    with qtbot.waitSignal(editor.program_saved) as saved:
        editor.save_button.click()
    assert saved.args == ["my_eye_area"]
    assert not editor.save_button.isEnabled()  # nothing left to save

    library = {p.id: p for p in load_library().programs}
    mine = library["my_eye_area"]
    assert not mine.builtin
    assert mine.name == "Eye area (gentle)"
    assert mine.steps[1].amplitude_ua == 70
    assert mine.steps[1].duration_s == 90
    assert mine.steps[0] == library["eye_area"].steps[0]
    assert library["eye_area"].steps[1].amplitude_ua == 80  # the built-in is untouched
    # the list shows it as a saved custom program, editable
    assert editor.current.id == "my_eye_area"
    assert editor.editable
    assert "custom" in editor.program_list.currentItem().text()
    assert "unsaved" not in editor.program_list.currentItem().text()


def test_edits_through_the_cell_editors(editor, qtbot):
    editor.clone_current("mine", "Mine")
    delegate = editor.table.itemDelegate()
    option = QStyleOptionViewItem()

    idx = cell(editor, 0, "side")
    box = delegate.createEditor(editor.table.viewport(), option, idx)
    assert isinstance(box, QComboBox)
    delegate.setEditorData(box, idx)
    assert box.currentData() == "both"
    box.setCurrentIndex(box.findData("left"))
    delegate.setModelData(box, editor.model, idx)
    assert editor.model.step(0)["side"] == "left"

    idx = cell(editor, 0, "frequency_hz")
    line = delegate.createEditor(editor.table.viewport(), option, idx)
    assert isinstance(line, QLineEdit)
    delegate.setEditorData(line, idx)
    assert line.text() == "10"
    line.setText("20")
    delegate.setModelData(line, editor.model, idx)
    assert editor.model.step(0)["frequency_hz"] == 20.0
    assert editor.save()
    step = load_program("mine").steps[0]
    assert step.side == "left"
    assert step.output.frequency_hz == 20.0


@pytest.mark.parametrize(
    ("field", "value", "column_title"),
    [
        ("frequency_hz", "0", "Freq. Hz"),
        ("amplitude_ua", "-5", "µA"),
        ("amplitude_ua", "0", "µA"),
        ("duration_s", "abc", "Duration s"),
        ("duration_s", "1e400", "Duration s"),
        ("frequency_hz", "nan", "Freq. Hz"),
        ("name", "  ", "Step name"),
    ],
)
def test_invalid_value_names_step_and_field_and_blocks_save(editor, field, value, column_title):
    editor.clone_current("bad", "Bad")
    assert editor.model.set_field(2, field, value)
    text = editor.error_text
    assert text.startswith("⚠ Step 3")
    assert f"{column_title} ({field})" in text
    assert not editor.save_button.isEnabled()
    assert not editor.save()
    assert not (custom_dir() / "bad.json").exists()
    # every role of the offending cell can be shown (no exception on inf / nan)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.EditRole,
    ):
        editor.model.data(cell(editor, 2, field), role)
    # the offending cell is highlighted
    assert editor.model.data(cell(editor, 2, field), Qt.ItemDataRole.BackgroundRole) is not None
    assert editor.model.data(cell(editor, 1, field), Qt.ItemDataRole.BackgroundRole) is None
    # fixing it clears the error and enables Save again
    good = {"frequency_hz": "10", "amplitude_ua": "50", "duration_s": "60", "name": "Fixed"}[field]
    assert editor.model.set_field(2, field, good)
    assert editor.error_text.startswith("✓")
    assert editor.save_button.isEnabled()


def test_program_level_and_rule_errors(editor):
    editor.clone_current("bad2", "Bad 2")
    editor.name_edit.setText("")
    editor.name_edit.textEdited.emit("")
    assert editor.error_text == "⚠ Name: must not be empty"
    assert not editor.save_button.isEnabled()
    editor.name_edit.setText("Ok")
    editor.name_edit.textEdited.emit("Ok")
    # a glide needs a direction (a rule across fields, same as the loader)
    editor.model.set_field(0, "technique", "glide")
    editor.model.set_field(0, "direction", "none")
    assert "Step 1" in editor.error_text
    assert "(direction)" in editor.error_text
    editor.model.set_field(0, "direction", "upward")
    # a midline muscle on both-sides side "left" is refused
    editor.model.set_field(4, "side", "left")
    assert "Step 5" in editor.error_text
    assert "(zones)" in editor.error_text
    editor.model.set_field(4, "side", "midline")
    # too long in total
    editor.model.set_field(0, "duration_s", "1200")
    assert "Total duration" in editor.error_text
    assert not editor.save_button.isEnabled()
    editor.model.set_field(0, "duration_s", "150")
    assert editor.error_text.startswith("✓")


def test_add_remove_move_steps(editor):
    editor.clone_current("ops", "Ops")
    names = [s["name"] for s in editor.model.steps()]
    editor.select_step(1)
    editor.up_button.click()
    assert [s["name"] for s in editor.model.steps()][:2] == [names[1], names[0]]
    editor.down_button.click()
    assert [s["name"] for s in editor.model.steps()] == names
    editor.select_step(5)
    assert not editor.down_button.isEnabled()
    editor.add_button.click()
    assert editor.model.rowCount() == 7
    assert editor.model.step(6)["name"] == f"{names[5]} (copy)"
    # 15:00 + 2:00 is still within 20 minutes
    assert editor.error_text.startswith("✓")
    editor.select_step(0)
    editor.remove_button.click()
    assert [s["name"] for s in editor.model.steps()][0] == names[1]
    assert editor.save()
    assert [s.name for s in load_program("ops").steps] == [s["name"] for s in editor.model.steps()]


def test_last_step_cannot_be_removed(editor):
    editor.select_program("manual")
    editor.clone_current("my_manual", "My manual")
    editor.select_step(0)
    assert not editor.remove_button.isEnabled()


def test_muscle_chooser_sets_the_step_muscles(editor, qtbot):
    chooser = MuscleChooser(["frontalis"])
    qtbot.addWidget(chooser)
    assert chooser.chosen() == ["frontalis"]
    for i in range(chooser.list.count()):
        item = chooser.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == "masseter":
            item.setCheckState(Qt.CheckState.Checked)
    assert chooser.chosen() == ["frontalis", "masseter"]
    editor.clone_current("m", "M")
    editor.model.set_field(0, "zones", chooser.chosen())
    shown = editor.model.data(cell(editor, 0, "zones"))
    assert "Frontalis" in shown
    assert "Masseter" in shown
    editor.model.set_field(0, "zones", [])
    assert editor.model.data(cell(editor, 0, "zones")) == "(chosen on the face map)"
    assert editor.error_text.startswith("✓")


def test_unsaved_edits_are_not_dropped_silently(editor, monkeypatch):
    editor.clone_current("keep", "Keep")
    editor.model.set_field(0, "amplitude_ua", "90")
    asked = []

    def cancel(*args, **kwargs):
        asked.append(args)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", cancel)
    editor.program_list.setCurrentRow(0)
    assert asked
    assert editor.current.id == "keep"
    assert editor.model.step(0)["amplitude_ua"] == 90.0
    editor.reject()
    assert editor.isVisible()


def test_clone_dialog_checks_the_id(qtbot, tmp_settings):
    source = load_program("eye_area")
    dlg = CloneDialog(source, {"eye_area", "taken"})
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
    assert dlg.id_edit.text() == "eye_area_my_version"
    assert ok.isEnabled()
    for bad, words in [
        ("My Prog", "not ' ' 'M' 'P'"),
        ("_x", "must start"),
        ("eye_area", "built-in"),
        ("taken", "already exists"),
        ("", "empty"),
    ]:
        dlg.id_edit.setText(bad)
        dlg.id_edit.textEdited.emit(bad)
        assert words in dlg.problem_text(), bad
        assert not ok.isEnabled()
    dlg.id_edit.setText("fine_1")
    dlg.id_edit.textEdited.emit("fine_1")
    assert ok.isEnabled()
    assert dlg.values() == ("fine_1", "Eye area (my version)")
    with pytest.raises(ProgramError, match="exists"):
        ProgramEditorDialog("eye_area").clone_current("toning", "x")


# ------------------------------------------------------------------ same rules as the loader

NUMBER_FIELDS = ("frequency_hz", "amplitude_ua", "alternate_s", "ramp_s", "duration_s")
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(min_value=-10, max_value=2000).map(float),
    st.sampled_from(["", "x", "1e400"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=st.integers(0, 5), field=st.sampled_from(NUMBER_FIELDS), value=values)
def test_editor_accepts_exactly_what_the_loader_accepts(qtbot, tmp_settings, row, field, value):
    dialog = ProgramEditorDialog("eye_area")
    try:
        dialog.clone_current("prop", "Prop")
        program = dialog.current
        typed = value if isinstance(value, str) else repr(value)
        dialog.model.set_field(row, field, typed)
        parsed = parse_number(typed)
        error: ProgramError | None = None
        try:
            replace_step(program, row, **{field: parsed})
        except ProgramError as exc:
            error = exc
        loader_ok = error is None
        if error is not None:
            # the step's own field, or the program's total duration (no step)
            assert (error.step, error.field) in ((row + 1, field), (None, "duration_s"))
        if isinstance(parsed, float) and not math.isfinite(parsed):
            assert not loader_ok
        assert dialog.save_button.isEnabled() == loader_ok
        assert dialog.error_text.startswith("✓" if loader_ok else "⚠")
    finally:
        dialog.deleteLater()


def test_saved_file_is_a_valid_program_file(editor):
    editor.clone_current("file_check", "File check")
    assert editor.save()
    path = custom_dir() / "file_check.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    assert data["name"] == "File check"
    assert len(data["steps"]) == 6


# ------------------------------------------------------------------ the practitioner's button


def test_practitioner_button_opens_editor_and_selects_saved_program(qtbot, tmp_settings):
    from app.ui.practitioner import PractitionerWorkspace

    desk = PractitionerWorkspace(None, "no database in this test")
    qtbot.addWidget(desk)
    desk.program_box.setCurrentIndex(desk.program_box.findData("toning"))
    dialog = desk._edit_programs()
    assert desk.edit_programs_button.text() == "Edit programs…"
    assert dialog.current.id == "toning"
    dialog.clone_current("my_toning", "My toning")
    dialog.model.set_field(0, "amplitude_ua", "120")
    assert dialog.save()
    assert desk.program_box.currentData() == "my_toning"
    assert desk.programs["my_toning"].steps[0].amplitude_ua == 120
    dialog.close()


def test_clone_and_muscles_buttons_go_through_their_dialogs(editor, monkeypatch):
    from PySide6.QtWidgets import QDialog

    monkeypatch.setattr(CloneDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    editor.clone_button.click()
    assert editor.current.id == "eye_area_my_version"
    assert editor.current.name == "Eye area (my version)"
    assert editor.editable

    def tick_masseter(self):
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == "masseter":
                item.setCheckState(Qt.CheckState.Checked)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(MuscleChooser, "exec", tick_masseter)
    editor.table.doubleClicked.emit(cell(editor, 2, "zones"))
    assert editor.model.step(2)["zones"] == ["orbicularis_oculi", "masseter"]
    assert editor.error_text.startswith("✓")
    # cancelling a muscle choice changes nothing
    monkeypatch.setattr(MuscleChooser, "exec", lambda self: QDialog.DialogCode.Rejected)
    editor.select_step(0)
    editor.muscles_button.click()
    assert editor.model.step(0)["zones"] == ["frontalis"]


# ------------------------------------------------------------------ delete


def test_delete_a_custom_program_keeps_its_file_recoverable(editor, monkeypatch, qtbot):
    from app.engine.programs import delete_custom_program, load_library

    assert not editor.delete_button.isEnabled()  # a built-in: never deleted
    with pytest.raises(ProgramError, match="built-in"):
        delete_custom_program("eye_area")
    editor.clone_current("my_eye_area", "Eye area (gentle)")
    assert editor.save()
    assert editor.delete_button.isEnabled()
    # asked first: Cancel keeps it
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    assert not editor.delete_current()
    assert (custom_dir() / "my_eye_area.json").exists()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(editor.program_deleted) as got:
        assert editor.delete_current()
    assert got.args == ["my_eye_area"]
    assert "my_eye_area" not in {p.id for p in load_library().programs}
    ids = [
        editor.program_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(editor.program_list.count())
    ]
    assert "my_eye_area" not in ids
    kept = list((custom_dir() / "deleted").glob("my_eye_area.*.json"))
    assert len(kept) == 1
    assert json.loads(kept[0].read_text())["name"] == "Eye area (gentle)"
    # the deleted folder is not part of the library, and the id can be used again
    editor.clone_current("my_eye_area", "Eye area (again)")
    assert editor.save()


def test_delete_an_unsaved_clone_just_drops_it(editor, monkeypatch):
    editor.clone_current("draft", "Draft")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert editor.delete_current()
    assert editor.program_list.findItems("Draft", Qt.MatchFlag.MatchStartsWith) == []
    assert not (custom_dir() / "deleted").exists()


def test_the_dialog_fits_the_screen_it_opens_on(qtbot):
    """1400 pixels wide on a big screen; within a 1280 x 800 laptop's (title bar included)
    and this test's small offscreen screen, so Save is never off-screen."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QGuiApplication

    from app.ui.screen_fit import FRAME_GUESS, resize_within_screen

    dlg = ProgramEditorDialog()
    qtbot.addWidget(dlg)
    room = QGuiApplication.primaryScreen().availableGeometry()
    assert dlg.width() + FRAME_GUESS.left() + FRAME_GUESS.right() <= room.width()
    assert dlg.height() + FRAME_GUESS.top() + FRAME_GUESS.bottom() <= room.height()
    assert dlg.minimumSizeHint().width() <= 1280 - 4
    resize_within_screen(dlg, 1400, 760, QRect(0, 0, 1280, 800))
    assert (dlg.width(), dlg.height()) == (1276, 760)
    resize_within_screen(dlg, 1400, 760, QRect(0, 0, 1920, 1080))
    assert (dlg.width(), dlg.height()) == (1400, 760)
