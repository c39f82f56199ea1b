"""Problems panel: rows with reasons, a count for the dock title, copy and clear."""

from PySide6.QtWidgets import QApplication

from ented_desktop.gui.problems_panel import ProblemsPanel


def test_rows_count_copy_and_clear(qtbot):
    panel = ProblemsPanel()
    qtbot.addWidget(panel)
    counts = []
    panel.countChanged.connect(counts.append)
    panel.add_problems([("/photos/a.jpg", "truncated"), ("/photos/loop", "link loop")], "photos")
    assert panel.rows() == [("/photos/a.jpg", "truncated"), ("/photos/loop", "link loop")]
    assert panel.summary.text() == "2 files could not be used (latest: 2 from photos)."
    panel.copy_to_clipboard()
    assert QApplication.clipboard().text() == "/photos/a.jpg\ttruncated\n/photos/loop\tlink loop"
    panel.add_problems([])
    assert panel.summary.text() == "2 files could not be used."
    panel.clear()
    assert panel.count() == 0 and panel.summary.text() == "No problems."
    assert counts == [2, 2, 0]


def test_one_problem_is_one_file(qtbot):
    panel = ProblemsPanel()
    qtbot.addWidget(panel)
    panel.add_problems([("/photos/a.jpg", "truncated")], "photos")
    assert panel.summary.text() == "1 file could not be used (latest: 1 from photos)."
