"""Unexpected errors raised on the main thread (in a slot, an event handler): logged with their traceback
to a rotating file in the user data folder and shown in a dialog whose report can be copied; the program goes on.

Without this they would vanish: a frozen windowed app has no stderr. Errors in background work are not
handled here; they arrive on the main thread as ``failed`` signals.
"""

from __future__ import annotations

import datetime
import logging
import platform
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ented_desktop import __version__
from ented_desktop.core.errors import UserError

log = logging.getLogger(__name__)

LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 3  # with the current file: at most 4 MB of log


def one_line(exc: BaseException) -> str:
    """The error in one line: a UserError's sentence, else the exception's class and first line."""
    lines = str(exc).strip().splitlines()
    text = lines[0].rstrip(".") if lines else ""
    if isinstance(exc, UserError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def crash_report(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    """What a bug report needs: versions, system, time and the traceback."""
    build = "bundle" if getattr(sys, "frozen", False) else "source"
    lines = [
        f"ENTED Desktop {__version__} ({build})",
        f"Python {platform.python_version()} on {platform.platform()}",
        f"Time {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "",
        *traceback.format_exception(kind, exc, tb),
    ]
    return "\n".join(line.rstrip("\n") for line in lines)


class CrashDialog(QDialog):
    """The error in a sentence, where the log is, and the report in a read-only box with a Copy button."""

    def __init__(self, summary: str, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ENTED Desktop: something went wrong")
        self.report = report
        layout = QVBoxLayout(self)
        message = QLabel(summary)
        message.setWordWrap(True)
        message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(message)
        self.details = QPlainTextEdit(report)
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copy_button.setText("Copied")


def install_error_hook(log_path: Path) -> None:
    """Write the program's log to ``log_path`` too (rotated) and report unexpected errors there and in a dialog."""
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(log_path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:  # no log is no reason not to start; the dialog still shows the error
        log.warning("the log file %s cannot be written (%s)", log_path, exc)
        where = "Details could not be written to a log file; copy the report below."
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        where = f"Details were written to {log_path}."
    showing = False

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        nonlocal showing
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        report = crash_report(kind, exc, tb)
        log.error("unexpected error\n%s", report)
        if showing:  # raised again while the dialog is open (a failing repaint): one dialog is enough
            return
        showing = True
        try:
            CrashDialog(f"Something went wrong: {one_line(exc)}. {where}", report,
                        QApplication.activeWindow()).exec()
        finally:
            showing = False

    sys.excepthook = hook
