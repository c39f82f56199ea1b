"""Unexpected errors raised on the main thread (in a slot, an event handler): logged with their traceback
to a rotating file and shown in a message box; the program goes on.

Without this they would vanish: a frozen windowed app has no stderr. Errors in background work are not
handled here; they arrive on the main thread as ``failed`` signals.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

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


def install_error_hook(log_path: Path) -> None:
    """Write the program's log to ``log_path`` too (rotated) and report unexpected errors there and in a box."""
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(log_path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:  # no log is no reason not to start; the box still shows the error
        log.warning("the log file %s cannot be written (%s)", log_path, exc)
        where = "Details could not be written to a log file."
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
        log.error("unexpected error", exc_info=(kind, exc, tb))
        if showing:  # raised again while the box is open (a failing repaint): one box is enough
            return
        showing = True
        try:
            QMessageBox.critical(QApplication.activeWindow(), "ENTED Desktop",
                                 f"Something went wrong: {one_line(exc)}. {where}")
        finally:
            showing = False

    sys.excepthook = hook
