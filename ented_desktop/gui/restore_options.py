"""How the next restore is done: the model, CodeFormer's fidelity and the background, chosen in a toolbar and
remembered in the settings (``restore_model``, ``restore_fidelity``, ``restore_background``).

Every restore the window starts (the selected photos, an album, a person's photos) sends :meth:`payload` with its
job: the keys of :data:`ented_desktop.gui.tasks.RESTORE_CHOICE`. The toolbar also opens the Models dialog, where
the models it offers are installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolBar,
    QWidget,
)

from ented_desktop.core.models.catalogue import CATALOGUE
from ented_desktop.core.models.store import InstalledModel
from ented_desktop.core.settings import Settings

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow
    from ented_desktop.gui.models_dialog import ModelsDialog

BEST_FOR_EACH_FACE = "Best for each face (recommended)"
BEST_TIP = ("ENTED with each person's reference for the faces its 128 px cover, and an installed 512 px model "
            "(if any) for larger faces.")
BACKGROUND_CHOICES = (("Leave as is", None), ("Also clean the background", "clean"), ("Enlarge 2x", "enlarge"))
NO_BACKGROUND_MODEL = "<a href='models'>needs a model…</a>"
NO_BACKGROUND_TIP = "The background options need a background model (Real-ESRGAN x2plus): install one in Models."
SLOW_ON_CPU = "Without a graphics card this is slow: a minute or more for each photo."
FIDELITY_LEFT, FIDELITY_RIGHT = "Sharper, more invented", "More like the original photo"
SLIDER_STEPS = 100  # the slider runs over w = 0 .. 1 in hundredths

ARCH_NAMES = {"ented": "ENTED", "codeformer": "CodeFormer", "gfpgan": "GFPGAN", "restoreformer": "RestoreFormer",
              "restoreformer++": "RestoreFormer++", "realesrgan": "Real-ESRGAN"}


def short_model_name(name: str) -> str:
    """A model's name as a user knows it: "CodeFormer" for the catalogue's ``codeformer``; any other name as is."""
    entry = next((e for e in CATALOGUE if e.name == name), None)
    return ARCH_NAMES.get(entry.architecture, entry.display) if entry else name


def model_display(model: InstalledModel) -> str:
    """An installed model as the chooser lists it: the catalogue's name for it, else its kind and its name."""
    entry = next((e for e in CATALOGUE if e.name == model.name), None)
    if entry is not None:
        return entry.display
    return f"{ARCH_NAMES.get(model.architecture, model.architecture)} ({model.name})"


def face_models(installed: list[InstalledModel]) -> list[InstalledModel]:
    """The usable face models, ENTED first, each name once (the user's copy before a shipped one)."""
    seen: set[str] = set()
    usable = []
    for m in installed:
        if m.purpose == "face" and m.verified and m.name not in seen:
            seen.add(m.name)
            usable.append(m)
    return sorted(usable, key=lambda m: m.architecture != "ented")


def background_model(installed: list[InstalledModel]) -> InstalledModel | None:
    """The usable background model: the catalogue's Real-ESRGAN when installed, else the first one."""
    usable = [m for m in installed if m.purpose == "background" and m.verified]
    return min(usable, key=lambda m: m.name != "realesrgan-x2plus") if usable else None


def list_models(model_dir: Path | None) -> list[InstalledModel]:
    """The installed models, without hashing their files (the restore checks those it loads)."""
    from ented_desktop.core.models.store import installed_models

    return installed_models(model_dir, verify=False)


class RestoreOptions(QWidget):
    """The chooser: model, fidelity (only while CodeFormer is chosen) and background (only with a background model
    installed). ``settings()`` gives the window's current settings, where each change is kept and, with
    ``settings_path``, saved. ``modelsRequested`` asks for the Models dialog."""

    changed = Signal()
    modelsRequested = Signal()

    def __init__(self, settings: Callable[[], Settings], *,
                 models: Callable[[Path | None], list[InstalledModel]] = list_models,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings, self._list = settings, models
        self._models: list[InstalledModel] = []
        self._background: InstalledModel | None = None

        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setToolTip("Which model restores the faces of the next restore")
        self.fidelity = QSlider(Qt.Orientation.Horizontal)
        self.fidelity.setRange(0, SLIDER_STEPS)
        self.fidelity.setFixedWidth(120)
        self.fidelity.setToolTip("CodeFormer's fidelity: to the right, the face stays closer to the original photo")
        self.fidelity_box = QWidget()
        fidelity_row = QHBoxLayout(self.fidelity_box)
        fidelity_row.setContentsMargins(0, 0, 0, 0)
        fidelity_row.addWidget(QLabel(FIDELITY_LEFT))
        fidelity_row.addWidget(self.fidelity)
        fidelity_row.addWidget(QLabel(FIDELITY_RIGHT))
        self.background_combo = QComboBox()
        for text, mode in BACKGROUND_CHOICES:
            self.background_combo.addItem(text, mode)
        self.background_link = QLabel(NO_BACKGROUND_MODEL)
        self.background_link.linkActivated.connect(lambda _: self.modelsRequested.emit())
        self.background_link.setToolTip(NO_BACKGROUND_TIP)
        self.slow_note = QLabel("(slow without a graphics card)")
        self.slow_note.setToolTip(SLOW_ON_CPU)
        self.models_link = QLabel("<a href='models'>Models…</a>")
        self.models_link.setToolTip("Install, import or remove models")
        self.models_link.linkActivated.connect(lambda _: self.modelsRequested.emit())

        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(QLabel("Restore with:"))
        row.addWidget(self.model_combo)
        row.addWidget(self.fidelity_box)
        row.addSpacing(12)
        row.addWidget(QLabel("Background:"))
        row.addWidget(self.background_combo)
        row.addWidget(self.slow_note)
        row.addWidget(self.background_link)
        row.addSpacing(12)
        row.addWidget(self.models_link)
        row.addStretch(1)

        self.model_combo.currentIndexChanged.connect(self._chosen)
        self.fidelity.valueChanged.connect(self._chosen)
        self.background_combo.currentIndexChanged.connect(self._chosen)
        self.refresh_models()

    # -- the models on offer -------------------------------------------------------------------------------
    def _model_dir(self) -> Path | None:
        folder = self._settings().model_dir
        return Path(folder) if folder else None

    def refresh_models(self) -> None:
        """List the installed models again (after the Models dialog changed them) and show the remembered choice;
        a remembered model that is no longer installed gives way to the default rule."""
        installed = self._list(self._model_dir())
        self._models = face_models(installed)
        self._background = background_model(installed)
        s = self._settings()
        for widget in (self.model_combo, self.fidelity, self.background_combo):
            widget.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItem(BEST_FOR_EACH_FACE, None)
        self.model_combo.setItemData(0, BEST_TIP, Qt.ItemDataRole.ToolTipRole)
        for model in self._models:
            self.model_combo.addItem(model_display(model), model.name)
            self.model_combo.setItemData(self.model_combo.count() - 1, f"{model.name}: {model.architecture}, "
                                         f"{model.resolution} px", Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(s.restore_model)))
        self.fidelity.setValue(round(s.restore_fidelity * SLIDER_STEPS))
        wanted = s.restore_background if self._background is not None else None
        self.background_combo.setCurrentIndex(max(0, self.background_combo.findData(wanted)))
        for widget in (self.model_combo, self.fidelity, self.background_combo):
            widget.blockSignals(False)
        self._update()

    def _update(self) -> None:
        self.fidelity_box.setVisible(self.codeformer_chosen())
        has_background = self._background is not None
        self.background_combo.setEnabled(has_background)
        self.background_link.setVisible(not has_background)
        self.slow_note.setVisible(has_background and self.background_combo.currentData() is not None)

    def _chosen(self, *_: object) -> None:
        s = self._settings()
        s.restore_model = self.model_combo.currentData()
        s.restore_fidelity = self.fidelity.value() / SLIDER_STEPS
        if self._background is not None:  # a background choice is kept while its model is away
            s.restore_background = self.background_combo.currentData()
        self._update()
        self.changed.emit()

    # -- the choice ----------------------------------------------------------------------------------------
    def chosen_model(self) -> InstalledModel | None:
        """The model chosen for every face; None for the default rule (best for each face)."""
        name = self.model_combo.currentData()
        return next((m for m in self._models if m.name == name), None)

    def codeformer_chosen(self) -> bool:
        model = self.chosen_model()
        return model is not None and model.architecture == "codeformer"

    def payload(self) -> dict[str, Any]:
        """What a restore job is given (gui.tasks.RESTORE_CHOICE): the model's name (None: best for each face),
        CodeFormer's fidelity (None for other models: they take none), the background mode and its model."""
        model = self.chosen_model()
        mode = self.background_combo.currentData() if self._background is not None else None
        return {"model": model.name if model else None,
                "fidelity": self.fidelity.value() / SLIDER_STEPS if self.codeformer_chosen() else None,
                "background": mode,
                "background_model": self._background.name if mode is not None and self._background else None}

    def summary(self) -> str:
        """The choice in a few words, for a job's title: "with CodeFormer", "" for the default rule."""
        model = self.chosen_model()
        return f" with {short_model_name(model.name)}" if model is not None else ""


def open_models_dialog(window: MainWindow) -> ModelsDialog:
    """The Models dialog, one at a time and not modal: the window stays usable while a model downloads."""
    from ented_desktop.gui.models_dialog import ModelsDialog

    dialog = getattr(window, "models_dialog", None)
    if dialog is None:
        folder = window.settings.model_dir
        dialog = ModelsDialog(window, model_dir=Path(folder) if folder else None)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.modelsChanged.connect(window.restore_options.refresh_models)
        dialog.destroyed.connect(lambda: setattr(window, "models_dialog", None))
        window.models_dialog = dialog
    dialog.show()
    dialog.raise_()
    return dialog


def add_restore_options(window: MainWindow, menu: QMenu) -> RestoreOptions:
    """Give ``window`` its restore options (``window.restore_options``) in a toolbar of their own, and a
    "Models…" entry at the end of ``menu`` (``window.act_models``)."""
    options = RestoreOptions(lambda: window.settings)
    options.modelsRequested.connect(lambda: open_models_dialog(window))
    window.restore_options = options
    bar = QToolBar("Restore options")
    bar.setObjectName("restore-options-toolbar")
    bar.addWidget(options)
    window.addToolBarBreak()  # a row of its own, under the main toolbar
    window.addToolBar(bar)
    window.act_models = menu.addAction("Models…", lambda: open_models_dialog(window))
    window.act_models.setStatusTip("Install, import, check or remove the models that restore faces and backgrounds")
    return options
