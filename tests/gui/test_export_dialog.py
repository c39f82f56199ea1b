"""Export dialog: TIFF, the last choice kept, the count said right, file names in plain words."""

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from ented_desktop.core.settings import Settings, load_settings
from ented_desktop.gui.export_dialog import (
    NAME_CHOICES,
    OWN_PATTERN,
    ExportDialog,
    ExportScope,
    example_name,
    selection_label,
)

EIGHT = ExportScope("The 8 selected photos", tuple(range(1, 9)))


def dialog_for(qtbot, tmp_path, scopes=(EIGHT,), settings=None):
    dialog = ExportDialog(list(scopes), settings or Settings(), str(tmp_path / "out"),
                          settings_path=tmp_path / "settings.json")
    qtbot.addWidget(dialog)
    return dialog


def ok_button(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_tiff_can_be_chosen_and_the_last_format_and_quality_are_kept(qtbot, tmp_path):
    dialog = dialog_for(qtbot, tmp_path)
    assert [dialog.format.itemData(i) for i in range(dialog.format.count())] == ["png", "jpeg", "tiff"]
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.quality.setValue(72)
    dialog.accept()
    kept = load_settings(tmp_path / "settings.json")
    assert (kept.export_format, kept.jpeg_quality) == ("jpeg", 72)
    assert dialog.settings() == kept

    again = dialog_for(qtbot, tmp_path, settings=kept)  # the next export starts where this one ended
    assert again.format.currentData() == "jpeg" and again.quality.value() == 72 and again.quality.isEnabled()
    again.format.setCurrentIndex(again.format.findData("tiff"))
    assert not again.quality.isEnabled()
    assert again.choice().format == "tiff"
    again.accept()
    assert load_settings(tmp_path / "settings.json").export_format == "tiff"


def test_a_cancelled_export_keeps_nothing(qtbot, tmp_path):
    dialog = dialog_for(qtbot, tmp_path)
    dialog.format.setCurrentIndex(dialog.format.findData("jpeg"))
    dialog.reject()
    assert not (tmp_path / "settings.json").exists()
    assert dialog.settings() == Settings()


def test_the_export_button_says_how_many_photos(qtbot, tmp_path):
    one = ExportScope("This photo (a.jpg)", (5,))
    dialog = dialog_for(qtbot, tmp_path, scopes=(one, EIGHT))
    assert ok_button(dialog).text() == "Export 1 photo"
    dialog.scope_buttons.buttons()[1].setChecked(True)
    assert ok_button(dialog).text() == "Export 8 photos"
    assert dialog.choice().version_ids == EIGHT.version_ids


@pytest.mark.parametrize(
    ("selected", "restored", "label"),
    [
        (8, 8, "The 8 selected photos"),
        (1, 1, "The selected photo"),
        (8, 1, "The 1 restored photo of the 8 selected (the other 7 are not restored yet)"),
        (3, 2, "The 2 restored photos of the 3 selected (the other one is not restored yet)"),
    ],
)
def test_selection_label_counts_right(selected, restored, label):
    assert selection_label(selected, restored) == label


def test_file_names_are_chosen_in_plain_words_with_the_pattern_under_details(qtbot, tmp_path):
    dialog = dialog_for(qtbot, tmp_path)
    labels = [dialog.names.itemText(i) for i in range(dialog.names.count())]
    assert labels == list(NAME_CHOICES.values()) and not any("{" in text for text in labels)
    assert dialog.names.currentData() == "{stem}_restored"
    assert dialog.example.text() == "For example: Grandma 1952_restored.png"
    assert dialog.detail_box.isHidden()  # no template syntax until Details is pressed
    dialog.names.setCurrentIndex(dialog.names.findData("{stem}"))
    assert dialog.choice().pattern == "{stem}" and dialog.example.text() == "For example: Grandma 1952.png"

    dialog.details.click()
    assert not dialog.detail_box.isHidden()
    dialog.pattern.setText("{album} {stem}")
    assert dialog.names.currentText() == OWN_PATTERN
    assert dialog.example.text() == "For example: Family Grandma 1952.png"
    dialog.pattern.setText("{nope}")
    assert not ok_button(dialog).isEnabled() and "may only use the fields" in dialog.problem.text()
    dialog.pattern.setText("{date} {stem}")
    assert dialog.names.currentData() == "{date} {stem}" and ok_button(dialog).isEnabled()


def test_an_own_pattern_from_the_settings_is_shown_as_such(qtbot, tmp_path):
    dialog = dialog_for(qtbot, tmp_path, settings=Settings(export_pattern="{album}_{stem}_v{version}"))
    assert dialog.names.currentText() == OWN_PATTERN
    assert dialog.choice().pattern == "{album}_{stem}_v{version}"
    dialog.names.setCurrentIndex(dialog.names.findData("{stem}"))
    assert dialog.detail_box.isHidden()
    dialog.names.setCurrentIndex(dialog.names.findText(OWN_PATTERN))  # opens Details to write it
    assert dialog.details.isChecked() and not dialog.detail_box.isHidden()
    assert dialog.choice().pattern == "{stem}"


def test_example_name():
    assert example_name("{date}_{stem}", "tiff") == "1952-07-14_Grandma 1952.tif"
    assert example_name("{oops}", "png") == ""
