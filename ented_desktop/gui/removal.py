"""The question asked before photos leave an album or a restored version is deleted; what removing does, and the
sentences that say so, are the core's (:mod:`ented_desktop.core.removal`)."""

from __future__ import annotations

from typing import Literal

from PySide6.QtWidgets import QMessageBox, QWidget

Answer = Literal["remove", "export", "cancel"]


class ConfirmRemoval(QMessageBox):
    """Asks before photos leave an album or a restored version is deleted, saying exactly what happens; with
    "Export first…" when restored versions would be deleted. Cancel is the default."""

    def __init__(self, title: str, question: str, details: list[str], action: str, *, can_export: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setIcon(QMessageBox.Icon.Warning if can_export else QMessageBox.Icon.Question)
        self.setText(question)
        self.setStyleSheet("QLabel#qt_msgbox_label { font-weight: bold; }")  # the question, above the details
        self.setInformativeText("\n\n".join(details))
        self.remove_button = self.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        self.export_button = self.addButton("Export first…", QMessageBox.ButtonRole.ActionRole) if can_export else None
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)

    def ask(self) -> Answer:
        self.exec()
        clicked = self.clickedButton()
        if clicked is self.remove_button:
            return "remove"
        if clicked is not None and clicked is self.export_button:
            return "export"
        return "cancel"
