"""``ented-desktop``: create the application, open the library in the user data folder, show the window.

``ENTED_DATA_DIR`` moves the user data folder (library, settings, models, log), e.g. for a portable
install or a test. Unexpected errors are logged there and shown (:mod:`ented_desktop.gui.error_report`).
Two test hooks, documented in :mod:`ented_desktop.gui.test_hooks`, are only active when their
environment variables are set.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtWidgets import QApplication, QMessageBox

from ented_desktop import __version__
from ented_desktop.core import paths
from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Library, default_library_dir
from ented_desktop.core.settings import default_settings_path, read_settings
from ented_desktop.core.view_state import default_view_state_path
from ented_desktop.gui.error_report import install_error_hook
from ented_desktop.gui.icons import icon
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.test_hooks import install_test_hooks


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_AUTHOR)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icon("app"))
    style = paths.resources_dir() / "style.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_application(sys.argv if argv is None else argv)
    install_error_hook(paths.log_file())
    settings_path = default_settings_path()
    settings, warnings = read_settings(settings_path)
    try:
        library = Library(default_library_dir())
    except UserError as exc:
        QMessageBox.critical(None, "ENTED Desktop", str(exc))
        return 2
    library.remove_leftovers()
    window = MainWindow(library, settings, settings_path=settings_path, view_state_path=default_view_state_path())
    window.show()
    if warnings:  # one box for all: in the status bar each would replace the one before
        QMessageBox.warning(window, "ENTED Desktop", "There were problems with the settings:\n\n"
                            + "\n".join(f"• {w}" for w in warnings))
    install_test_hooks(window)
    try:
        return app.exec()
    finally:
        library.close()


if __name__ == "__main__":
    sys.exit(main())
