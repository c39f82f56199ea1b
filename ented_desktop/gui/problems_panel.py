"""Files that could not be imported (or processed), each with its reason."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.gui.wording import count


class ProblemsPanel(QWidget):
    """A table of (file, reason) rows; ``countChanged`` lets the window show the number in a title."""

    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Problem"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 320)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)  # keep the file name, shorten the folders
        self.summary = QLabel("No problems.")
        copy = QPushButton("Copy list")
        copy.clicked.connect(self.copy_to_clipboard)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(copy)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def add_problems(self, problems: Iterable[tuple[str, str]], source: str = "") -> None:
        """Append (path, reason) rows; ``source`` (e.g. the dropped folder) is shown in the summary."""
        added = 0
        self.table.setUpdatesEnabled(False)
        for path, reason in problems:
            row = self.table.rowCount()
            self.table.insertRow(row)
            path_item = QTableWidgetItem(str(path))
            path_item.setToolTip(str(path))
            reason_item = QTableWidgetItem(reason)
            reason_item.setToolTip(reason)
            self.table.setItem(row, 0, path_item)
            self.table.setItem(row, 1, reason_item)
            added += 1
        self.table.setUpdatesEnabled(True)
        total = self.count()
        if added and source:
            self.summary.setText(f"{count(total, 'file')} could not be used (latest: {added} from {source}).")
        else:
            self.summary.setText(f"{count(total, 'file')} could not be used." if total else "No problems.")
        self.countChanged.emit(self.count())

    def count(self) -> int:
        return self.table.rowCount()

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.count())]

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.summary.setText("No problems.")
        self.countChanged.emit(0)

    def copy_to_clipboard(self) -> None:
        text = "\n".join(f"{path}\t{reason}" for path, reason in self.rows())
        QApplication.clipboard().setText(text)
