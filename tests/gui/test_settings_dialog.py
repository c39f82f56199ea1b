"""Settings dialog: shows the current values, refuses a bad export pattern, saves through core."""

from PySide6.QtWidgets import QDialogButtonBox

from ented_desktop.core.settings import Settings, load_settings
from ented_desktop.gui import settings_dialog
from ented_desktop.gui.settings_dialog import SettingsDialog


def test_edits_are_saved_and_reloaded(qtbot, tmp_path):
    path = tmp_path / "settings.json"
    dialog = SettingsDialog(Settings(device="cpu", jpeg_quality=80), path=path)
    qtbot.addWidget(dialog)
    assert dialog.device.currentData() == "cpu"
    assert not dialog.jpeg_quality.isEnabled()  # PNG is the default format
    dialog.engine.setCurrentIndex(dialog.engine.findData("onnx"))
    dialog.export_format.setCurrentIndex(dialog.export_format.findData("jpeg"))
    assert dialog.jpeg_quality.isEnabled()
    dialog.thumbnail_size.setValue(128)
    dialog.model_dir.setText(str(tmp_path / "models"))
    dialog.export_pattern.setText("{album}_{stem}")
    dialog.accept()
    saved = load_settings(path)
    assert (saved.engine, saved.export_format, saved.thumbnail_size) == ("onnx", "jpeg", 128)
    assert saved.model_dir == str(tmp_path / "models")
    assert saved.export_pattern == "{album}_{stem}" and saved.jpeg_quality == 80
    assert dialog.settings() == saved


def test_bad_pattern_disables_ok_and_says_why(qtbot, tmp_path):
    dialog = SettingsDialog(Settings(), path=tmp_path / "s.json")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.export_pattern.setText("{nope}")
    assert not ok.isEnabled()
    assert "may only use the fields" in dialog.problem.text()
    dialog.export_pattern.setText("{stem}")
    assert ok.isEnabled() and dialog.problem.text() == ""


def test_cancel_keeps_the_old_settings(qtbot, tmp_path):
    dialog = SettingsDialog(Settings(thumbnail_size=300), path=tmp_path / "s.json")
    qtbot.addWidget(dialog)
    dialog.thumbnail_size.setValue(100)
    dialog.reject()
    assert dialog.settings().thumbnail_size == 300
    assert not (tmp_path / "s.json").exists()


def test_a_failed_save_says_why_and_keeps_the_dialog_open(qtbot, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    path = not_a_folder / "ented" / "settings.json"
    dialog = SettingsDialog(Settings(), path=path)
    qtbot.addWidget(dialog)
    shown = []
    monkeypatch.setattr(settings_dialog.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    dialog.show()
    dialog.thumbnail_size.setValue(100)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert shown == [f"The settings could not be saved to {path}: Not a directory."]
    assert dialog.isVisible() and dialog.settings() == Settings()
