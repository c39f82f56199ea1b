"""``ented-desktop [PATH...]``: open the library in the user data folder in a window and import the folders or
photos given (what a file manager's "Open with" or a drop on the program's icon passes).

Each folder given becomes an album named after it; photos given directly go to an album named after the folder
they are in. A second ``ented-desktop`` on the same library opens no window: it hands its paths to the running
one (:mod:`ented_desktop.gui.single_instance`) and exits 0. ``--selftest`` checks an installation or a bundle
(:mod:`ented_desktop.selftest`); ``--install-desktop-entry`` / ``--uninstall-desktop-entry`` add or remove the
application menu entry (:mod:`ented_desktop.core.desktop_entry`).

``ENTED_DATA_DIR`` moves the user data folder (library, settings, models, log), e.g. for a portable
install or a test. Unexpected errors are logged there and shown (:mod:`ented_desktop.gui.error_report`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from ented_desktop import __version__
from ented_desktop.core import desktop_entry, paths
from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Library, LibraryInUseError, default_library_dir
from ented_desktop.core.settings import default_settings_path, read_settings
from ented_desktop.gui.error_report import install_error_hook
from ented_desktop.gui.icons import icon
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.single_instance import PathServer, forward_paths
from ented_desktop.gui.view_state import default_view_state_path

TITLE = "ENTED Desktop"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ented-desktop", description="Restore old family photos with ENTED.")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="folders or photos to import (each folder into an album named after it)")
    parser.add_argument("--version", action="version", version=f"ented-desktop {__version__}")
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--selftest", action="store_true",
                         help="check this installation offline in a throwaway user folder and exit (0: all passed)")
    actions.add_argument("--install-desktop-entry", action="store_true",
                         help="add ENTED Desktop to the application menu and to 'Open with' for photos")
    actions.add_argument("--uninstall-desktop-entry", action="store_true",
                         help="remove what --install-desktop-entry added")
    args = parser.parse_args(argv)
    if args.paths and (args.selftest or args.install_desktop_entry or args.uninstall_desktop_entry):
        parser.error("paths cannot be given with --selftest or the desktop entry options")
    return args


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_AUTHOR)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(desktop_entry.ICON_NAME)  # ties the window to the menu entry (Wayland app id)
    app.setWindowIcon(icon("app"))
    style = paths.resources_dir() / "style.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app  # type: ignore[return-value]


def album_groups(paths_given: list[Path]) -> list[tuple[str, list[Path]]]:
    """``(album name, paths)`` per album to make: one per folder given, one per folder that photos given
    directly are in (in the order first given; a path given twice counts once)."""
    groups: dict[tuple[bool, Path], list[Path]] = {}
    for path in paths_given:
        is_folder = path.is_dir()
        paths_of_album = groups.setdefault((is_folder, path if is_folder else path.parent), [])
        if path not in paths_of_album:
            paths_of_album.append(path)
    return [(folder.name or str(folder), members) for (_, folder), members in groups.items()]


def open_paths(window: MainWindow, paths_given: list[Path]) -> None:
    """Import ``paths_given`` (absolute) into new albums named after their folders; report the missing ones."""
    if not paths_given:
        return
    missing = [p for p in paths_given if not p.exists()]
    albums = window.library.albums
    for name, members in album_groups([p for p in paths_given if p.exists()]):
        try:
            album_id = albums.create(albums.free_name(name))
        except UserError as exc:
            QMessageBox.warning(window, TITLE, str(exc))
            continue
        window.import_paths(members, album_id)
    if missing:
        QMessageBox.warning(window, TITLE, "These were not found, so they were not imported:\n\n"
                            + "\n".join(f"• {p}" for p in missing))


def bring_to_front(window: MainWindow) -> None:
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def start_window(library: Library) -> MainWindow:
    """The main window on ``library``, shown, with any settings problems in one box."""
    settings_path = default_settings_path()
    settings, warnings = read_settings(settings_path)
    window = MainWindow(library, settings, settings_path=settings_path, view_state_path=default_view_state_path())
    window.show()
    if warnings:  # one box for all: in the status bar each would replace the one before
        QMessageBox.warning(window, TITLE, "There were problems with the settings:\n\n"
                            + "\n".join(f"• {w}" for w in warnings))
    return window


def run_desktop_entry(install: bool) -> int:
    try:
        done = desktop_entry.install() if install else desktop_entry.uninstall()
    except UserError as exc:
        print(f"ented-desktop: {exc}", file=sys.stderr)
        return 2
    verb = "wrote" if install else "removed"
    print("\n".join(f"{verb} {p}" for p in done) if done else "no desktop entry was installed")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    args = parse_arguments(argv[1:])
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return run_desktop_entry(args.install_desktop_entry)
    if args.selftest:
        from ented_desktop.selftest import run

        return run()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_application(argv[:1])
    install_error_hook(paths.log_file())
    library_dir = default_library_dir()
    given = [p.absolute() for p in args.paths]
    try:
        library = Library(library_dir)
    except LibraryInUseError as exc:  # another window has it: give it the paths, else say why none opens
        if forward_paths(library_dir, given):
            return 0
        QMessageBox.critical(None, TITLE, str(exc))
        return 2
    except UserError as exc:
        QMessageBox.critical(None, TITLE, str(exc))
        return 2
    server = PathServer(library_dir)
    server.listen()  # before the window: a second program started now waits for it, not for the window
    library.maintenance.remove_leftovers()
    window = start_window(library)
    server.received.connect(lambda received: (bring_to_front(window), open_paths(window, received)))
    open_paths(window, given)
    try:
        return app.exec()
    finally:
        server.close()
        library.close()


if __name__ == "__main__":
    sys.exit(main())
