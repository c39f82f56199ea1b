"""Files that could not be used (imported, searched for faces, restored), each with its reason.

The list is the library's (``lib.problems``), so it survives a restart: the panel shows it, and Dismiss and Clear
remove problems there. In a dock (:meth:`ProblemsPanel.attach`) the dock's title counts them, and the dock is hidden
while there are none.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.library import Library
from ented_desktop.core.library.records import Problem
from ented_desktop.core.wording import count
from ented_desktop.gui.background_calls import BackgroundCalls, Changed

ProblemIdRole = Qt.ItemDataRole.UserRole
ROWS_SHOWN = 6  # the panel asks for room for this many rows when it is shown


class ProblemsPanel(QWidget):
    """A table of (file, reason) rows from ``library.problems``, read and changed through ``calls``."""

    countChanged = Signal(int)

    def __init__(self, library: Library, calls: BackgroundCalls, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.calls = calls
        self._asked = 0  # the newest reload's number: an older answer arriving late is dropped
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
        self.table.setMinimumHeight(self._rows_height(3))
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        self.summary = QLabel()
        self.copy_button = QPushButton("Copy list")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Remove the selected problems from the list")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every problem from the list")
        self.clear_button.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        for button in (self.copy_button, self.dismiss_button, self.clear_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.show_problems([])

    def _rows_height(self, rows: int) -> int:
        header = self.table.horizontalHeader().sizeHint().height()
        return header + rows * self.table.verticalHeader().defaultSectionSize() + 2 * self.table.frameWidth()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override): room for several rows, not two and a half
        hint = super().sizeHint()
        return QSize(hint.width(), self._rows_height(ROWS_SHOWN) + self.summary.sizeHint().height() + 24)

    def attach(self, dock: QDockWidget) -> None:
        """Title ``dock`` (which holds the panel) with the count, hide it while the list is empty, and show the list
        the library kept."""

        def counted(n: int) -> None:
            dock.setWindowTitle(f"Problems ({n})" if n else "Problems")
            dock.setVisible(n > 0)
            if n:
                dock.raise_()

        self.countChanged.connect(counted)
        counted(self.count())
        self.reload()

    # -- the library's list ----------------------------------------------------------------------
    def reload(self, on_done: Callable[[], None] | None = None) -> None:
        """Show the library's list again (after a job listed problems); ``on_done`` once shown."""
        self._asked += 1
        asked, library = self._asked, self.library

        def shown(problems: list[Problem]) -> None:
            if asked == self._asked:
                self.show_problems(problems)
                if on_done is not None:
                    on_done()

        self.calls.query(library.problems.all, shown)

    def reload_now(self) -> None:
        """Show the library's list again at once: a job just listed problems, and its end should show them (a
        short read of a small table)."""
        self._asked += 1  # an older background answer must not replace this one
        self.show_problems(self.library.problems.all())

    def show_problems(self, problems: list[Problem]) -> None:
        """Show these problems, the newest last."""
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(0)
        for problem in problems:
            row = self.table.rowCount()
            self.table.insertRow(row)
            path_item = QTableWidgetItem(problem.path)
            path_item.setToolTip(problem.path)
            path_item.setData(ProblemIdRole, problem.id)
            reason_item = QTableWidgetItem(problem.reason)
            reason_item.setToolTip(f"{problem.reason} ({problem.source})" if problem.source else problem.reason)
            self.table.setItem(row, 0, path_item)
            self.table.setItem(row, 1, reason_item)
        self.table.setUpdatesEnabled(True)
        total = len(problems)
        if total and problems[-1].source:
            self.summary.setText(f"{count(total, 'file')} could not be used (latest: {problems[-1].source}).")
        else:
            self.summary.setText(f"{count(total, 'file')} could not be used." if total else "No problems.")
        self._sync_buttons()
        self.countChanged.emit(total)

    def count(self) -> int:
        return self.table.rowCount()

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.count())]

    def selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [int(self.table.item(r, 0).data(ProblemIdRole)) for r in rows]

    def _sync_buttons(self) -> None:
        self.dismiss_button.setEnabled(bool(self.table.selectedIndexes()))
        self.copy_button.setEnabled(self.count() > 0)
        self.clear_button.setEnabled(self.count() > 0)

    # -- user actions ----------------------------------------------------------------------------
    def dismiss_selected(self) -> None:
        ids, library = self.selected_ids(), self.library
        if ids:
            self.calls.change(lambda: library.problems.dismiss(ids), Changed(0), lambda _: self.reload())

    def clear(self) -> None:
        library = self.library
        self.calls.change(library.problems.clear, Changed(0), lambda _: self.reload())

    def copy_to_clipboard(self) -> None:
        text = "\n".join(f"{path}\t{reason}" for path, reason in self.rows())
        QApplication.clipboard().setText(text)
