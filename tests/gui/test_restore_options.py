"""The restore options: the model chosen for each restore and remembered, CodeFormer's fidelity, the background,
the Models dialog from the menu and from the options, and what the restore jobs are given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ented_desktop.core.library import Library
from ented_desktop.core.models.store import InstalledModel
from ented_desktop.core.settings import SETTINGS_VERSION, Settings, read_settings, save_settings
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.models_dialog import ModelsDialog
from ented_desktop.gui.restore_options import (
    BEST_FOR_EACH_FACE,
    FIDELITY_LEFT,
    FIDELITY_RIGHT,
    RestoreOptions,
)
from ented_desktop.gui.tasks import RESTORE_CHOICE, Services

from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference


def installed(name: str, architecture: str, purpose: str = "face", resolution: int = 512,
              verified: bool = True) -> InstalledModel:
    return InstalledModel(name=name, architecture=architecture, purpose=purpose, resolution=resolution,
                          scale=1 if purpose == "face" else 2, size_bytes=1000, licence="", path=Path(f"{name}.st"),
                          verified=verified, shipped=architecture == "ented")


ENTED = installed("ented-lfw128", "ented", resolution=128)
CODEFORMER = installed("codeformer", "codeformer")
GFPGAN = installed("my-gfpgan", "gfpgan")
BACKGROUND = installed("realesrgan-x2plus", "realesrgan", "background", 0)


def options(qtbot, settings: Settings, models: list[InstalledModel]) -> RestoreOptions:
    widget = RestoreOptions(lambda: settings, models=lambda folder: list(models))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def texts(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_lists_the_default_rule_ented_and_each_installed_face_model(qtbot):
    damaged = installed("broken", "gfpgan", verified=False)
    widget = options(qtbot, Settings(), [CODEFORMER, GFPGAN, damaged, ENTED, BACKGROUND])
    assert texts(widget.model_combo) == [BEST_FOR_EACH_FACE, "ENTED (LFW, 128 px)", "CodeFormer v0.1.0",
                                         "GFPGAN (my-gfpgan)"]
    assert widget.payload() == {"model": None, "fidelity": None, "background": None, "background_model": None}
    assert set(widget.payload()) == set(RESTORE_CHOICE)


def test_fidelity_is_shown_only_for_codeformer_with_upstreams_default(qtbot):
    settings = Settings()
    widget = options(qtbot, settings, [ENTED, CODEFORMER])
    assert widget.fidelity_box.isHidden()
    widget.model_combo.setCurrentIndex(widget.model_combo.findData("codeformer"))
    assert not widget.fidelity_box.isHidden()
    assert widget.fidelity.value() == 50
    words = [label.text() for label in widget.fidelity_box.findChildren(type(widget.models_link))]
    assert words == [FIDELITY_LEFT, FIDELITY_RIGHT]
    widget.fidelity.setValue(80)
    assert widget.payload() == {"model": "codeformer", "fidelity": 0.8, "background": None, "background_model": None}
    widget.model_combo.setCurrentIndex(widget.model_combo.findData("ented-lfw128"))
    assert widget.fidelity_box.isHidden() and widget.payload()["fidelity"] is None


def test_the_choice_is_remembered_in_the_settings_file(qtbot, tmp_path):
    settings = Settings()
    widget = options(qtbot, settings, [ENTED, CODEFORMER, BACKGROUND])
    widget.model_combo.setCurrentIndex(widget.model_combo.findData("codeformer"))
    widget.fidelity.setValue(70)
    widget.background_combo.setCurrentIndex(widget.background_combo.findData("clean"))
    save_settings(settings, tmp_path / "settings.json")
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data["version"] == SETTINGS_VERSION == 4
    assert (data["restore_model"], data["restore_fidelity"], data["restore_background"]) == ("codeformer", 0.7,
                                                                                              "clean")
    again, warnings = read_settings(tmp_path / "settings.json")
    assert warnings == []
    shown = options(qtbot, again, [ENTED, CODEFORMER, BACKGROUND])
    assert shown.model_combo.currentText() == "CodeFormer v0.1.0" and shown.fidelity.value() == 70
    assert shown.background_combo.currentText() == "Also clean the background"
    gone = options(qtbot, again, [ENTED])  # the model was removed since: the default rule, no background
    assert gone.model_combo.currentText() == BEST_FOR_EACH_FACE
    assert gone.payload() == {"model": None, "fidelity": None, "background": None, "background_model": None}


def test_invalid_remembered_choices_fall_back_to_the_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 4, "restore_model": "", "restore_fidelity": 3,
                                "restore_background": "sparkle"}))
    settings, warnings = read_settings(path)
    assert (settings.restore_model, settings.restore_fidelity, settings.restore_background) == (None, 0.5, None)
    assert len(warnings) == 3
    path.write_text(json.dumps({"version": 3, "device": "cpu"}))  # a v3 file restores as before
    settings, warnings = read_settings(path)
    assert warnings == [] and settings.restore_model is None and settings.device == "cpu"


def test_background_needs_a_background_model_and_warns_that_it_is_slow(qtbot):
    widget = options(qtbot, Settings(restore_background="enlarge"), [ENTED])
    assert not widget.background_combo.isEnabled() and not widget.background_link.isHidden()
    assert widget.payload()["background"] is None
    asked = []
    widget.modelsRequested.connect(lambda: asked.append(True))
    widget.background_link.linkActivated.emit("models")
    assert asked == [True]
    widget = options(qtbot, Settings(), [ENTED, BACKGROUND])
    assert widget.background_combo.isEnabled() and widget.background_link.isHidden()
    assert texts(widget.background_combo) == ["Leave as is", "Also clean the background", "Enlarge 2x"]
    assert widget.slow_note.isHidden()
    widget.background_combo.setCurrentIndex(2)
    assert not widget.slow_note.isHidden() and "slow" in widget.slow_note.toolTip()
    assert widget.payload() == {"model": None, "fidelity": None, "background": "enlarge",
                                "background_model": "realesrgan-x2plus"}


@pytest.fixture
def window(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    settings = Settings(model_dir=str(tmp_path / "models"))
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        reference_preparer=fake_prepare_reference)
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.shutdown()


def test_models_dialog_opens_from_the_menu_and_from_the_restore_options(qtbot, window):
    restore_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Restore")
    assert window.act_models in restore_menu.actions() and window.act_models.text() == "Models…"
    window.act_models.trigger()
    dialog = window.findChild(ModelsDialog)
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    dialog.close()
    qtbot.waitUntil(lambda: window.findChild(ModelsDialog) is None, timeout=5000)
    window.restore_options.models_link.linkActivated.emit("models")
    assert window.findChild(ModelsDialog).isVisible()
    window.findChild(ModelsDialog).close()


def test_an_installed_model_is_offered_at_once(qtbot, window, tmp_path):
    from tests.test_models_store import write_thirdparty

    window.act_models.trigger()
    dialog = window.findChild(ModelsDialog)
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    write_thirdparty(tmp_path / "models", "codeformer", architecture="codeformer")
    dialog.modelsChanged.emit()  # what an import or a download does
    assert "CodeFormer v0.1.0" in texts(window.restore_options.model_combo)
    dialog.close()


def test_every_restore_action_sends_the_chosen_options(qtbot, window, tmp_path, monkeypatch):
    from tests.test_models_store import write_thirdparty

    write_thirdparty(tmp_path / "models", "codeformer", architecture="codeformer")
    window.restore_options.refresh_models()
    combo = window.restore_options.model_combo
    combo.setCurrentIndex(combo.findData("codeformer"))
    window.restore_options.fidelity.setValue(90)
    assert window.settings.restore_model == "codeformer" and window.settings.restore_fidelity == 0.9
    submitted = []
    monkeypatch.setattr(window.queue, "submit", lambda kind, payload: submitted.append((kind, payload)))
    window.photo_actions._restore([1, 2], "Restore 2 photos")  # what restoring photos, an album or a person calls
    qtbot.waitUntil(lambda: bool(submitted), timeout=5000)  # after looking for photos restored this way already
    ((kind, payload),) = submitted
    mine = {key: payload[key] for key in ("photo_ids", "title", *RESTORE_CHOICE)}  # the skip logic adds its own
    assert (kind, mine) == ("restore", {"photo_ids": [1, 2], "title": "Restore 2 photos with CodeFormer",
                                        "model": "codeformer", "fidelity": 0.9, "background": None,
                                        "background_model": None})
