"""The main window: albums, the photo grid, faces, compare, people, jobs and problems, with menus.

It only presents the library and schedules jobs; what a job does lives in :mod:`tasks` and the core.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ented_desktop import __version__
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES
from ented_desktop.core.library import JobState, Library, UnknownItemError
from ented_desktop.core.settings import Settings, save_settings
from ented_desktop.core.wording import count
from ented_desktop.gui.album_list import ALL_PHOTOS, AlbumList, album_name_for
from ented_desktop.gui.album_removal import AlbumRemoval
from ented_desktop.gui.background_calls import BackgroundCalls, Changed
from ented_desktop.gui.compare_page import ComparePage
from ented_desktop.gui.drop_area import DropHighlight
from ented_desktop.gui.drops import accept_as_copy, dropped_paths
from ented_desktop.gui.face_detection import FaceDetection
from ented_desktop.gui.faces_page import FacesPage
from ented_desktop.gui.finetune_dialog import FinetuneCandidate, FinetuneDialog
from ented_desktop.gui.icons import icon
from ented_desktop.gui.job_queue import JobQueue
from ented_desktop.gui.job_queue_panel import JobQueuePanel
from ented_desktop.gui.job_results import JobResults
from ented_desktop.gui.people_panel import PeoplePanel
from ented_desktop.gui.photo_actions import PhotoActions
from ented_desktop.gui.photos_page import PhotosPage
from ented_desktop.gui.problems_panel import ProblemsPanel
from ented_desktop.gui.reference_check import shows_a_face
from ented_desktop.gui.settings_dialog import SettingsDialog
from ented_desktop.gui.tasks import (
    Services,
    factories,
    finetune_photos,
)
from ented_desktop.gui.view_state import ViewState, load_view_state, save_view_state, start_folder
from ented_desktop.gui.window_actions import WindowActions

log = logging.getLogger(__name__)

SUGGESTION_REFRESH_MS = 1500  # new faces arrive in bursts: regroup once they settle


def on_a_screen(rect: QRect, screens: list[QRect]) -> bool:
    """Whether enough of the window's top (its title bar) is on one of ``screens`` to grab and move it."""
    title_bar = QRect(rect.x(), rect.y(), rect.width(), 30)
    return any(s.intersected(title_bar).width() >= 100 and s.intersected(title_bar).height() >= 10
               for s in screens)


class MainWindow(QMainWindow):
    def __init__(self, library: Library, settings: Settings, *, settings_path: Path | None = None,
                 view_state_path: Path | None = None, services: Services | None = None) -> None:
        """``view_state_path``: where the window's geometry, album, tab and file dialogs' folders are kept
        between runs (None: not kept)."""
        super().__init__()
        self.library = library
        self.actions = WindowActions(self)
        self.job_results = JobResults(self)
        self.detection = FaceDetection(self)
        self.photo_actions = PhotoActions(self)
        self.photos_page = PhotosPage(self)
        self.faces_page = FacesPage(self)
        self.compare_tab = ComparePage(self)
        self.removal = AlbumRemoval(self)
        self.settings = settings
        self.settings_path = settings_path
        self.view_state_path = view_state_path
        self.view_state = load_view_state(view_state_path) if view_state_path is not None else ViewState()
        self.folders = self.view_state.folders  # where each kind of file dialog opens; shared with the panels
        self.services = services or Services(lambda: self.settings)
        self.queue = JobQueue(library, factories(library, self.services), self)
        self.calls = BackgroundCalls(self, max_threads=3)
        self.calls.changed.connect(self._on_library_changed)
        self.current_album: int = ALL_PHOTOS
        self.current_photo: int | None = None
        self.current_version: int | None = None
        self.last_export: list[Path] = []
        self.photo_image: QImage | None = None
        self.photo_unreadable = False  # the original failed to load: its versions are shown alone
        self.version_image: QImage | None = None
        self.export_folder = self.folders.get("export", str(Path.home() / "Restored photos"))
        self.setWindowTitle("ENTED Desktop")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        self._build_central()
        self._build_docks()
        self.actions.build()
        self.queue.event.connect(self.job_results.on_job_event)
        self.queue.finished.connect(self.job_results.on_job_finished)
        self.queue.idle.connect(self.services.release_models)
        self.suggest_timer = QTimer(self)
        self.suggest_timer.setSingleShot(True)
        self.suggest_timer.setInterval(SUGGESTION_REFRESH_MS)
        self.suggest_timer.timeout.connect(self.people_panel.group_suggestions.refresh_suggestions)
        self._restore_view()
        previous = self.queue.load_previous()
        self.detection.request_face_detection()
        interrupted = [e for e in previous if e.state == JobState.INTERRUPTED]
        if interrupted:
            one = len(interrupted) == 1
            self.status(f"{count(len(interrupted), 'job')} {'was' if one else 'were'} interrupted when the program "
                        f"last ended; re-run {'it' if one else 'them'} from the Jobs panel.")
            self.jobs_dock.raise_()

    # -- construction ----------------------------------------------------------------------------
    def _restore_view(self) -> None:
        """The album, tab and geometry of the last run; defaults for an album since removed or a window no
        screen shows any more (say a monitor was unplugged)."""
        state = self.view_state
        known = {a.id for a in self.library.albums.all()}
        self.current_album = state.album_id if state.album_id in known else ALL_PHOTOS
        self.photos_page.refresh_albums()
        self.photos_page.show_album(self.current_album)
        if state.tab < self.tabs.count():
            self.tabs.setCurrentIndex(state.tab)
        if state.geometry is not None:
            rect = QRect(*state.geometry)
            if on_a_screen(rect, [s.availableGeometry() for s in QGuiApplication.screens()]):
                self.setGeometry(rect)
        if state.maximized:
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def _save_view(self) -> None:
        state = self.view_state
        normal = self.normalGeometry() if self.isMaximized() else self.geometry()
        state.geometry = (normal.x(), normal.y(), normal.width(), normal.height())
        state.maximized = self.isMaximized()
        state.album_id = None if self.current_album == ALL_PHOTOS else self.current_album
        state.tab = self.tabs.currentIndex()
        self.folders["export"] = self.export_folder
        if self.view_state_path is not None:
            try:
                save_view_state(state, self.view_state_path)
            except OSError as exc:  # only the look of the window is lost: not worth a message box
                log.warning("view state not saved to %s: %s", self.view_state_path, exc)

    def _build_central(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.addTab(self.photos_page.build(), icon("photo"), "Photos")
        self.tabs.addTab(self.faces_page.build(), icon("person"), "Faces")
        self.tabs.addTab(self.compare_tab.build(), icon("compare"), "Compare")
        self.tabs.currentChanged.connect(self._focus_page)
        self.setCentralWidget(self.tabs)
        self.drop_highlight = DropHighlight(self.tabs)

    def _focus_page(self, tab: int) -> None:
        """The keys go to the page shown (next and previous photo work there), not to a widget it hid."""
        page = (self.grid, self.faces_view, self.compare)[tab]
        focus = QApplication.focusWidget()
        if focus is None or not focus.isVisible() or self.tabs.isAncestorOf(focus):
            page.setFocus(Qt.FocusReason.OtherFocusReason)

    def _build_docks(self) -> None:
        self.albums = AlbumList(self.import_paths)
        self.albums.currentItemChanged.connect(self.photos_page.on_album_chosen)
        self.albums.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.albums.customContextMenuRequested.connect(
            lambda pos: self.popup(self.album_menu(self.albums.itemAt(pos) is not None), self.albums.viewport(),
                                    pos))
        albums_box = QWidget()
        albums_layout = QVBoxLayout(albums_box)
        albums_layout.setContentsMargins(4, 4, 4, 4)
        albums_layout.addWidget(self.albums, 1)
        add = QPushButton(icon("add-folder"), "Add folder…")
        add.clicked.connect(self.add_folder)
        albums_layout.addWidget(add)
        self.albums_dock = self._dock("Albums", albums_box, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.people_panel = PeoplePanel(self.library, self._reference_shows_a_face, self.calls, folders=self.folders,
                                        parent=self)
        self.people_panel.message.connect(self.status)
        self.people_panel.restorePersonRequested.connect(self.photo_actions.restore_person)
        self.people_dock = self._dock("People", self.people_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.jobs_panel = JobQueuePanel(self.queue)
        self.jobs_panel.showRequested.connect(self.show_finetune_job)
        self.jobs_dock = self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_panel = ProblemsPanel(self.library, self.calls)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.problems_dock = self._dock("Problems", self.problems_panel, bottom)
        self.problems_panel.attach(self.problems_dock)  # titled with the count, hidden while empty
        self.resizeDocks([self.albums_dock, self.jobs_dock], [290, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.albums_dock, self.people_dock], [180, 520], Qt.Orientation.Vertical)
        self.resizeDocks([self.problems_dock], [self.problems_panel.sizeHint().height()], Qt.Orientation.Vertical)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    # -- helpers ---------------------------------------------------------------------------------
    def status(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def warn(self, text: str) -> None:
        self.status(text)
        QMessageBox.warning(self, "ENTED Desktop", text)

    def _reference_shows_a_face(self, path: Path) -> bool:
        """The people panel's check of a chosen reference image (runs on a worker thread)."""
        model_dir = self.settings.model_dir
        return shows_a_face(path, Path(model_dir) if model_dir else None)

    def _menu(self, actions: list[QAction | None]) -> QMenu:
        menu = QMenu(self)
        for action in actions:
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def album_menu(self, on_album: bool) -> QMenu:
        """The albums list's context menu; ``on_album``: opened on an album (which is then the current one)."""
        own = [self.act_rename_album, self.act_delete_album, None] if on_album else []
        return self._menu([*own, self.act_new_album, self.act_restore_album])

    def grid_menu(self) -> QMenu:
        return self._menu([self.act_restore, self.act_find_faces, self.act_export, None, self.act_remove_photos])

    def compare_menu(self) -> QMenu:
        return self._menu([self.act_toggle, self.act_split, self.act_fit, self.act_actual, None,
                           self.act_delete_version])

    @staticmethod
    def popup(menu: QMenu, widget: QWidget, pos: QPoint) -> None:
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(widget.mapToGlobal(pos))

    # -- albums and photos -----------------------------------------------------------------------

    def _on_library_changed(self, what: Changed) -> None:
        """The views the window itself shows reload (the people panel reloads itself)."""
        if what & Changed.ALBUMS:
            self.photos_page.refresh_albums()
        if what & Changed.PHOTOS:
            self.photos_page.show_album(self.current_album)
        if what & (Changed.FACES | Changed.PEOPLE):
            self.faces_page.refresh_faces()
        if what & Changed.VERSIONS and self.current_photo is not None:  # versions are deleted from Compare
            self.photos_page.mark_restored(self.current_photo, True)

    # -- faces -----------------------------------------------------------------------------------

    # -- versions and compare --------------------------------------------------------------------

    # -- importing -------------------------------------------------------------------------------
    def _show_drop_target(self, on: bool) -> None:
        self.drop_highlight.set_shown(on)
        self.grid_empty.set_highlighted(on)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        self._show_drop_target(accept_as_copy(event))

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        accept_as_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._show_drop_target(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._show_drop_target(False)
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
        elif accept_as_copy(event):
            self.import_paths(paths, None)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", start_folder(self.folders, "import"))
        if folder:
            # the next dialog opens where this one was chosen from, among its neighbours
            self.folders["import"] = str(Path(folder).parent)
            self.import_paths([Path(folder)], None)

    def add_photos(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", start_folder(self.folders, "import"),
                                                f"Photos ({patterns})")
        if files:
            self.folders["import"] = str(Path(files[0]).parent)
            self.import_paths([Path(f) for f in files], None)

    def new_album(self) -> None:
        name, ok = QInputDialog.getText(self, "New album", "Album name:")
        if ok:
            library = self.library
            self.calls.change(lambda: library.albums.create(name), Changed.ALBUMS, self._show_new_album, self.warn)

    def _show_new_album(self, album_id: int) -> None:
        self.current_album = album_id
        self.photos_page.refresh_albums()
        self.photos_page.show_album(album_id)

    def import_paths(self, paths: list[Path], album_id: int | None) -> None:
        """Import dropped or chosen folders and files into ``album_id`` (a new album when None)."""
        if not paths:
            return
        if album_id is None:
            library, name = self.library, album_name_for(paths)
            self.calls.change(lambda: library.albums.create(library.albums.free_name(name)), Changed.ALBUMS,
                              lambda new_id: self.import_paths(paths, new_id), self.warn)
            return
        self._show_new_album(album_id)
        names = ", ".join(p.name or str(p) for p in paths[:2]) + ("…" if len(paths) > 2 else "")
        self.queue.submit("import", {"album_id": album_id, "paths": [str(p) for p in paths],
                                     "title": f"Import {names}", "source": names})
        self.status(f"Importing {names}…")

    # -- job results -----------------------------------------------------------------------------

    # -- restoring, exporting --------------------------------------------------------------------

    # -- renaming and removing albums, photos and versions ----------------------------------------
    def rename_album(self) -> None:
        album_id = self.current_album
        if album_id == ALL_PHOTOS:
            return
        try:
            old = self.library.albums.get(album_id).name
        except UnknownItemError as exc:
            self.album_gone(str(exc))
            return
        name, ok = QInputDialog.getText(self, "Rename album", "Album name:", text=old)
        if not ok or name == old:
            return
        library = self.library

        def rename() -> str:
            library.albums.rename(album_id, name)
            return library.albums.get(album_id).name

        self.calls.change(rename, Changed.ALBUMS, lambda new: self.status(f'The album "{old}" is now called "{new}".'),
                          lambda message: self.album_failure(album_id, message))

    def album_failure(self, album_id: int, message: str) -> None:
        """An action on an album failed: said, and when the album has gone meanwhile, every photo shown."""
        if album_id in {a.id for a in self.library.albums.all()}:
            self.warn(message)  # an empty name, another album's, a disk error
        else:
            self.album_gone(message)

    def album_gone(self, message: str) -> None:
        """The album left the library before the action reached it: say so and show every photo."""
        self.warn(message)
        self.current_album = ALL_PHOTOS
        self.photos_page.refresh_albums()
        self.photos_page.show_album(ALL_PHOTOS)

    # -- dialogs ---------------------------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self, path=self.settings_path)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        old, self.settings = self.settings, dialog.settings()
        if (old.device, old.engine, old.model_dir) != (self.settings.device, self.settings.engine,
                                                        self.settings.model_dir):
            self.services.reset()
        if old.thumbnail_size != self.settings.thumbnail_size:
            self.photos_page.set_thumbnail_size()
        self.status("Settings saved.")

    def _finetune_dialog(self) -> FinetuneDialog:
        candidates = [FinetuneCandidate(p.id, p.name, len({f.photo_id for f in self.library.faces.of_person(p.id)}),
                                        tuple(finetune_photos(self.library, p.id)))
                      for p in self.library.people.all()]
        dialog = FinetuneDialog(candidates, queue=self.queue, on_keep=self._keep_personal_model,
                                on_discard=self._discard_personal_model, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return dialog

    def open_finetune(self) -> FinetuneDialog:
        dialog = self._finetune_dialog()
        dialog.show()  # not modal: the window stays usable while it trains
        return dialog

    def show_finetune_job(self, job_id: int) -> FinetuneDialog:
        """The fine-tune job's dialog, shown again (it was closed while it learned) or made for it."""
        dialog = FinetuneDialog.of_job(self, job_id)
        if dialog is None:
            dialog = self._finetune_dialog()
            dialog.show_job(job_id)
        dialog.reopen()
        return dialog

    def _keep_personal_model(self, person_id: int, result: Any) -> None:
        """Use the new model for the person; the one it replaces is deleted when it was made for them here."""
        from ented_desktop.core.weights import remove_model

        library, new = self.library, Path(result.model_path).absolute()

        def keep() -> None:
            previous = library.people.get(person_id).personal_model
            library.people.set_personal_model(person_id, new)
            if previous is not None and previous != new and previous.parent == new.parent:
                remove_model(previous)

        self.calls.change(keep, Changed.PEOPLE, on_failed=self.warn)

    def _discard_personal_model(self, person_id: int, result: Any) -> None:
        from ented_desktop.core.weights import remove_model

        remove_model(result.model_path)

    def about(self) -> None:
        QMessageBox.about(self, "About ENTED Desktop",
                          f"<b>ENTED Desktop {__version__}</b><br><br>"
                          "ENTED Desktop restores the faces in old family photos with ENTED, a "
                          "reference-based face restoration method: name the people, pick a good photo "
                          "of each as their reference, and restore.")

    # -- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the jobs and wait for every background call, so the library can be closed safely."""
        self.suggest_timer.stop()
        self.queue.stop_all()
        self.calls.shutdown()
        self.thumbnails.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.queue.closing:  # shut down already (by whoever owns the library): nothing left to ask or save
            event.accept()
            return
        running = [e for e in self.queue.active() if e.state == JobState.RUNNING]
        if running:
            one = len(running) == 1
            answer = QMessageBox.question(
                self, "ENTED Desktop", f"{count(len(running), 'job')} {'is' if one else 'are'} still running. "
                f"Stop {'it' if one else 'them'} and quit? {'It' if one else 'They'} can be re-run next time.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        for dialog in self.findChildren(FinetuneDialog):
            dialog.reject()  # a finished run nobody kept is discarded, not left on disk
        self.shutdown()
        self._save_view()
        if self.settings_path is not None:
            try:
                save_settings(self.settings, self.settings_path)
            except OSError as exc:  # say so, and quit all the same: only this session's settings are lost
                QMessageBox.warning(self, "ENTED Desktop", f"The settings could not be saved to "
                                    f"{self.settings_path}: {exc.strerror or exc}.")
        event.accept()
