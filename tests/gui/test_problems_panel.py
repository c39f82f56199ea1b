"""Problems panel: the library's list (kept across restarts), a count in the dock title, hidden while empty, room
for several rows, copy, dismiss and clear wired to the library."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow

from ented_desktop.core.library import Library
from ented_desktop.gui.background_calls import BackgroundCalls
from ented_desktop.gui.problems_panel import ProblemsPanel


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


def docked(qtbot, library):
    """The panel in a dock of a shown window, as the main window has it."""
    window = QMainWindow()
    qtbot.addWidget(window)
    calls = BackgroundCalls(window)
    panel = ProblemsPanel(library, calls)
    dock = QDockWidget("Problems", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.show()
    panel.attach(dock)
    return window, panel, dock, calls


def test_the_list_is_the_librarys_and_survives_a_restart(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    library.problems.add([("/photos/a.jpg", "truncated"), ("/photos/loop", "link loop")], "photos")
    library.close()

    library = Library(tmp_path / "lib")  # the program started again
    try:
        window, panel, dock, calls = docked(qtbot, library)
        qtbot.waitUntil(lambda: panel.count() == 2, timeout=5000)  # it started empty: the list was in memory only
        assert panel.rows() == [("/photos/a.jpg", "truncated"), ("/photos/loop", "link loop")]
        assert panel.summary.text() == "2 files could not be used (latest: photos)."
        assert dock.windowTitle() == "Problems (2)" and dock.isVisible()
        panel.copy_to_clipboard()
        assert QApplication.clipboard().text() == "/photos/a.jpg\ttruncated\n/photos/loop\tlink loop"
        calls.shutdown()
    finally:
        library.close()


def test_hidden_while_empty_and_shown_when_a_job_lists_problems(qtbot, library):
    window, panel, dock, calls = docked(qtbot, library)
    qtbot.waitUntil(calls.idle, timeout=5000)
    assert not dock.isVisible()  # it stayed open saying "No problems."
    library.problems.add([("/photos/b.png", "no face found")], "restoring")
    panel.reload()
    qtbot.waitUntil(dock.isVisible, timeout=5000)
    assert panel.summary.text() == "1 file could not be used (latest: restoring)."
    calls.shutdown()


def test_dismiss_and_clear_change_the_library(qtbot, library):
    library.problems.add([("/a.jpg", "truncated"), ("/b.jpg", "truncated"), ("/c.jpg", "unreadable")], "photos")
    window, panel, dock, calls = docked(qtbot, library)
    qtbot.waitUntil(lambda: panel.count() == 3, timeout=5000)
    assert not panel.dismiss_button.isEnabled()  # nothing selected
    panel.table.selectRow(1)
    panel.dismiss_button.click()
    qtbot.waitUntil(lambda: panel.count() == 2, timeout=5000)
    assert [p.path for p in library.problems.all()] == ["/a.jpg", "/c.jpg"]
    panel.clear_button.click()
    qtbot.waitUntil(lambda: not dock.isVisible(), timeout=5000)
    assert library.problems.all() == [] and dock.windowTitle() == "Problems"
    calls.shutdown()


def test_an_open_panel_has_room_for_more_than_two_rows_and_a_half(qtbot, library):
    library.problems.add([(f"/photos/{i}.jpg", "truncated") for i in range(10)], "photos")
    window, panel, dock, calls = docked(qtbot, library)
    qtbot.waitUntil(lambda: panel.count() == 10, timeout=5000)
    row = panel.table.rowHeight(0)
    header = panel.table.horizontalHeader().height()
    assert panel.sizeHint().height() - header >= 5 * row  # the dock's start size: 170 px showed 2½ rows
    assert panel.table.minimumHeight() >= header + 3 * row
    calls.shutdown()
