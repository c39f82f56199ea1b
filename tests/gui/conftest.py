"""GUI tests run without a display: Qt's offscreen platform, set before any QApplication exists.
Every test in this folder carries the ``gui`` marker (``-m "not gui"`` leaves them out)."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where GUI tests save their screenshots: the test's temporary folder, or ``ENTED_SCREENSHOT_DIR`` when set
    (``ENTED_SCREENSHOT_DIR=docs/screenshots`` refreshes the README's pictures; plain test runs leave them alone)."""
    return Path(os.environ.get("ENTED_SCREENSHOT_DIR") or tmp_path / "screenshots")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().parent == HERE:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def no_unanswered_question(monkeypatch):
    """A question box nobody answers would block the run for ever (offscreen, no one clicks): a test that meets
    one without answering it itself gets "No", and the box is recorded. Without this, a failed test that leaves a
    job running hangs in teardown, when pytest-qt closes the window and it asks whether to stop the job."""
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []

    def answer_no(_parent, _title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer_no))
    return asked
