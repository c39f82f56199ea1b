"""Unexpected main-thread errors: logged with their traceback to a rotating file and shown, and the app goes on."""

import logging
import sys

import pytest
from PySide6.QtWidgets import QPushButton

from ented_desktop.gui import error_report


def explode() -> None:
    raise ZeroDivisionError("division by zero")


@pytest.fixture
def hooked(qtbot, tmp_path, monkeypatch):
    """The hook installed for one test; its log handler and ``sys.excepthook`` are put back afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    handlers = logging.getLogger().handlers[:]
    button = QPushButton()
    qtbot.addWidget(button)
    button.clicked.connect(explode)
    yield button
    for handler in logging.getLogger().handlers[len(handlers):]:
        logging.getLogger().removeHandler(handler)
        handler.close()


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_slot_is_logged_and_shown_once_and_the_app_goes_on(hooked, tmp_path, monkeypatch):
    shown = []

    def critical(parent, title, text):
        shown.append(text)
        hooked.click()  # fails again while the box is open (a failing repaint would): logged, no second box

    monkeypatch.setattr(error_report.QMessageBox, "critical", critical)
    log_path = tmp_path / "logs" / "ented-desktop.log"
    error_report.install_error_hook(log_path)
    hooked.click()
    assert shown == [f"Something went wrong: ZeroDivisionError: division by zero. "
                     f"Details were written to {log_path}."]
    text = log_path.read_text(encoding="utf-8")
    assert text.count("Traceback (most recent call last)") == 2 and "in explode" in text
    hooked.click()  # still running: the next error gets its box
    assert len(shown) == 2


@pytest.mark.qt_no_exception_capture
def test_without_a_log_file_the_error_is_still_shown(hooked, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(error_report.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    (tmp_path / "file").write_text("")
    error_report.install_error_hook(tmp_path / "file" / "logs" / "ented-desktop.log")
    hooked.click()
    assert shown == ["Something went wrong: ZeroDivisionError: division by zero. "
                     "Details could not be written to a log file."]
