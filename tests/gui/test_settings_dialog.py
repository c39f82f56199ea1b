"""Settings dialog: shows the current values and which device restoring really uses, saves through core; the
export choices are the Export dialog's."""

import torch
from PySide6.QtWidgets import QDialogButtonBox

from ented_desktop.core.settings import Settings, load_settings
from ented_desktop.gui import settings_dialog
from ented_desktop.gui.settings_dialog import CPU_WORDS, NO_GPU, SettingsDialog, device_in_use


def test_edits_are_saved_and_reloaded(qtbot, tmp_path):
    path = tmp_path / "settings.json"
    chosen = Settings(device="cpu", jpeg_quality=80, export_format="tiff", export_pattern="{album}_{stem}")
    dialog = SettingsDialog(chosen, path=path)
    qtbot.addWidget(dialog)
    assert dialog.device.currentData() == "cpu"
    dialog.engine.setCurrentIndex(dialog.engine.findData("onnx"))
    dialog.thumbnail_size.setValue(128)
    dialog.model_dir.setText(str(tmp_path / "models"))
    dialog.accept()
    saved = load_settings(path)
    assert (saved.engine, saved.thumbnail_size, saved.model_dir) == ("onnx", 128, str(tmp_path / "models"))
    # the Export dialog's last choice stays as it was (OK turned TIFF back into PNG)
    assert (saved.export_format, saved.jpeg_quality, saved.export_pattern) == ("tiff", 80, "{album}_{stem}")
    assert dialog.settings() == saved


def test_no_export_pattern_or_engine_jargon_up_front(qtbot, tmp_path):
    dialog = SettingsDialog(Settings(), path=tmp_path / "s.json")
    qtbot.addWidget(dialog)
    dialog.show()
    shown = " ".join(w.text() for w in dialog.findChildren(settings_dialog.QLabel) if w.isVisible())
    shown += " " + " ".join(dialog.device.itemText(i) for i in range(dialog.device.count()))
    assert "{stem}" not in shown and "PyTorch" not in shown and "GPU when available" not in shown
    assert not dialog.engine.isVisible()
    dialog.details_button.click()
    assert dialog.engine.isVisible() and dialog.model_dir.isVisible()


def test_it_says_which_device_restoring_runs_on(qtbot, tmp_path, monkeypatch):
    dialog = SettingsDialog(Settings(device="cpu"), path=tmp_path / "s.json")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.in_use.text() == f"Restoring runs on: {CPU_WORDS}", timeout=10000)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100 80GB HBM3")
    dialog.device.setCurrentIndex(dialog.device.findData("auto"))
    qtbot.waitUntil(lambda: dialog.in_use.text() == "Restoring runs on: NVIDIA GPU: NVIDIA H100 80GB HBM3",
                    timeout=10000)


def test_device_words_for_this_machine_and_a_missing_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_in_use("cpu", "torch") == CPU_WORDS
    assert device_in_use("cuda", "torch") == NO_GPU
    real = device_in_use("auto", "torch")  # on a machine with an NVIDIA GPU, its name
    assert real == CPU_WORDS or real.startswith(("NVIDIA GPU", "Apple GPU"))


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
