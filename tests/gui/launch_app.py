"""``python -m tests.gui.launch_app [ARGS]``: the application as ``ented-desktop ARGS`` starts it, with the test
hooks of :mod:`tests.gui.app_hooks` installed on its window (the shipped package has none)."""

from __future__ import annotations

import sys

from ented_desktop.core.library import Library
from ented_desktop.gui import app
from ented_desktop.gui.main_window import MainWindow

from .app_hooks import install_test_hooks

_start_window = app.start_window


def start_window_with_hooks(library: Library) -> MainWindow:
    window = _start_window(library)
    install_test_hooks(window)
    return window


if __name__ == "__main__":
    app.start_window = start_window_with_hooks
    sys.exit(app.main())
