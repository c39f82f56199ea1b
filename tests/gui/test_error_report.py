"""Unexpected main-thread errors: logged with their traceback to a rotating file in the user data folder and shown
in a dialog whose report (version, system, traceback) can be copied; the app goes on."""

import logging
import sys

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from ented_desktop import __version__
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


@pytest.fixture
def dialogs(monkeypatch):
    """The crash dialogs shown, instead of waiting for someone to close them."""
    shown = []
    monkeypatch.setattr(error_report.CrashDialog, "exec", lambda self: shown.append(self) or 0)
    return shown


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_slot_is_logged_and_shown_once_and_the_app_goes_on(hooked, tmp_path, monkeypatch):
    shown = []

    def exec_dialog(dialog):
        shown.append(dialog)
        hooked.click()  # fails again while the dialog is open (a failing repaint would): logged, no second dialog
        return 0

    monkeypatch.setattr(error_report.CrashDialog, "exec", exec_dialog)
    log_path = tmp_path / "logs" / "ented-desktop.log"
    error_report.install_error_hook(log_path)
    hooked.click()
    assert len(shown) == 1
    summary = shown[0].findChild(error_report.QLabel).text()
    assert summary == f"Something went wrong: ZeroDivisionError: division by zero. Details were written to {log_path}."
    text = log_path.read_text(encoding="utf-8")
    assert text.count("Traceback (most recent call last)") == 2 and "in explode" in text
    assert f"ENTED Desktop {__version__} (source)" in text
    hooked.click()  # still running: the next error gets its dialog
    assert len(shown) == 2


@pytest.mark.qt_no_exception_capture
def test_the_report_shows_the_traceback_and_copies_to_the_clipboard(hooked, tmp_path, dialogs):
    error_report.install_error_hook(tmp_path / "logs" / "ented-desktop.log")
    hooked.click()
    dialog = dialogs[0]
    report = dialog.details.toPlainText()
    assert dialog.details.isReadOnly() and report == dialog.report
    lines = report.splitlines()
    assert lines[0] == f"ENTED Desktop {__version__} (source)" and lines[1].startswith("Python ")
    assert "Traceback (most recent call last):" in lines and lines[-1] == "ZeroDivisionError: division by zero"
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == report and dialog.copy_button.text() == "Copied"


@pytest.mark.qt_no_exception_capture
def test_without_a_log_file_the_error_is_still_shown(hooked, tmp_path, dialogs):
    (tmp_path / "file").write_text("")
    error_report.install_error_hook(tmp_path / "file" / "logs" / "ented-desktop.log")
    hooked.click()
    assert dialogs[0].findChild(error_report.QLabel).text() == (
        "Something went wrong: ZeroDivisionError: division by zero. "
        "Details could not be written to a log file; copy the report below.")
