"""The main window: albums, the photo grid, faces, compare, people, jobs and problems, with menus.

It only presents the library and schedules jobs; what a job does lives in :mod:`tasks` and the core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES, read_image_rgb8
from ented_desktop.core.library import FaceRecord, Library, Person, UnknownItemError, Version
from ented_desktop.core.settings import Settings, save_settings
from ented_desktop.core.view_state import ViewState, load_view_state, save_view_state, start_folder
from ented_desktop.gui.async_calls import AsyncCalls
from ented_desktop.gui.compare_view import CompareMode, CompareView
from ented_desktop.gui.export_dialog import ExportDialog, ExportScope
from ented_desktop.gui.face_images import cut_face
from ented_desktop.gui.face_overlay import FaceMark, FaceOverlayView
from ented_desktop.gui.finetune_dialog import FinetuneCandidate, FinetuneDialog
from ented_desktop.gui.icons import icon
from ented_desktop.gui.job_queue import JobQueue
from ented_desktop.gui.job_queue_panel import JobQueuePanel
from ented_desktop.gui.name_face_dialog import NameFaceDialog
from ented_desktop.gui.people_panel import PeoplePanel
from ented_desktop.gui.problems_panel import ProblemsPanel
from ented_desktop.gui.qimage import qimage_from_rgb
from ented_desktop.gui.reference_check import shows_a_face
from ented_desktop.gui.removal import (
    Answer,
    ConfirmRemoval,
    RemovalCost,
    more_lost,
    removal_cost,
    removal_details,
    removal_summary,
    unfinished_job_notes,
)
from ented_desktop.gui.settings_dialog import SettingsDialog
from ented_desktop.gui.tasks import (
    FacesFound,
    Outcome,
    PhotosArrived,
    Services,
    VersionMade,
    factories,
    finetune_photos,
)
from ented_desktop.gui.thumbnail_model import PhotoIdRole, PhotoItem, ThumbnailModel
from ented_desktop.gui.wording import count

log = logging.getLogger(__name__)

ALL_PHOTOS = -1  # the albums list entry showing every photo
AlbumIdRole = Qt.ItemDataRole.UserRole + 20
TAB_PHOTOS, TAB_FACES, TAB_COMPARE = 0, 1, 2
SUGGESTION_REFRESH_MS = 1500  # new faces arrive in bursts: regroup once they settle
VERSION_TEXT_MAX_PX = 260  # longer version names (personal models') are elided, whole in their tooltip


@contextmanager
def busy_cursor() -> Iterator[None]:
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


def dropped_paths(urls: list[QUrl]) -> list[Path]:
    return [Path(u.toLocalFile()) for u in urls if u.isLocalFile() and u.toLocalFile()]


def album_name_for(paths: list[Path]) -> str:
    """A dropped folder names its album; loose files get a dated name."""
    folders = [p for p in paths if p.is_dir()]
    if len(folders) == 1 and folders[0].name:
        return folders[0].name
    return time.strftime("Photos %Y-%m-%d %H:%M")


def on_a_screen(rect: QRect, screens: list[QRect]) -> bool:
    """Whether enough of the window's top (its title bar) is on one of ``screens`` to grab and move it."""
    title_bar = QRect(rect.x(), rect.y(), rect.width(), 30)
    return any(s.intersected(title_bar).width() >= 100 and s.intersected(title_bar).height() >= 10
               for s in screens)


def box_rect(box: tuple[float, float, float, float]) -> QRectF:
    x0, y0, x1, y1 = box
    return QRectF(x0, y0, x1 - x0, y1 - y0)


def face_label(face: FaceRecord, people: dict[int, Person]) -> tuple[str, bool]:
    person = people.get(face.person_id) if face.person_id is not None else None
    return (person.name, True) if person else ("Unnamed", False)


def face_plan(face: FaceRecord, people: dict[int, Person]) -> str:
    """How this face will be restored, in words (the UI must say when there is no reference)."""
    person = people.get(face.person_id) if face.person_id is not None else None
    if person is None:
        return "unnamed: will be restored without a reference (the face is its own reference)"
    model = ", with the personal model" if person.personal_model else ""
    if person.reference_face_id is None and person.reference_image is None:
        return (f"{person.name}: no reference chosen yet, so restored without one "
                f"(the face is its own reference){model}")
    return f"{person.name}: restored with {person.name}'s reference{model}"


def face_outcome(report: dict[str, Any]) -> str:
    """What happened to one face in a restored version."""
    who = report.get("person") or "Unnamed face"
    if not report.get("restored"):
        return f"{who}: not restored ({report.get('reason') or 'no reason given'})"
    if report.get("fallback"):  # restored otherwise than planned: say why
        return f"{who}: {report['fallback']}"
    if report.get("reference") == "person":
        how = f"restored with {who}'s reference"
    else:
        how = "restored without a reference (the face served as its own reference)"
    if report.get("model") not in (None, "general"):
        how += ", with the personal model"
    if report.get("detail_only"):  # else a user who sees little change would not know why
        how += "; larger than the model, so only fine detail the photo lacked was added"
    return f"{who}: {how}"


class AlbumList(QListWidget):
    """Albums; folders dropped on an album are added to it (elsewhere they make a new album)."""

    def __init__(self, on_drop: Callable[[list[Path], int | None], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_drop = on_drop
        self.setAcceptDrops(True)
        self.setIconSize(QSize(20, 20))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        album_id = item.data(AlbumIdRole) if item is not None else None
        event.acceptProposedAction()
        self._on_drop(dropped_paths(event.mimeData().urls()), album_id if album_id != ALL_PHOTOS else None)


class MainWindow(QMainWindow):
    def __init__(self, library: Library, settings: Settings, *, settings_path: Path | None = None,
                 view_state_path: Path | None = None, services: Services | None = None) -> None:
        """``view_state_path``: where the window's geometry, album, tab and file dialogs' folders are kept
        between runs (None: not kept)."""
        super().__init__()
        self.library = library
        self.settings = settings
        self.settings_path = settings_path
        self.view_state_path = view_state_path
        self.view_state = load_view_state(view_state_path) if view_state_path is not None else ViewState()
        self.folders = self.view_state.folders  # where each kind of file dialog opens; shared with the panels
        self.services = services or Services(lambda: self.settings)
        self.queue = JobQueue(library, factories(library, self.services), self)
        self.calls = AsyncCalls(self)
        self.calls.done.connect(self._on_loaded)
        self.calls.failed.connect(self._on_load_failed)
        self.current_album: int = ALL_PHOTOS
        self.current_photo: int | None = None
        self.current_version: int | None = None
        self.last_export: list[Path] = []
        self._detect_tried: set[int] = set()  # photos a detect job was already given this session
        self._detect_again = False
        self._photo_image: QImage | None = None
        self._photo_unreadable = False  # the original failed to load: its versions are shown alone
        self._version_image: QImage | None = None
        self._export_folder = self.folders.get("export", str(Path.home() / "Restored photos"))
        self.setWindowTitle("ENTED Desktop")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        self._build_central()
        self._build_docks()
        self._build_actions()
        self.queue.event.connect(self._on_job_event)
        self.queue.finished.connect(self._on_job_finished)
        self._suggest_timer = QTimer(self)
        self._suggest_timer.setSingleShot(True)
        self._suggest_timer.setInterval(SUGGESTION_REFRESH_MS)
        self._suggest_timer.timeout.connect(self.people_panel.refresh_suggestions)
        self._restore_view()
        previous = self.queue.load_previous()
        self.request_face_detection()
        interrupted = [e for e in previous if e.state == "interrupted"]
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
        known = {a.id for a in self.library.albums()}
        self.current_album = state.album_id if state.album_id in known else ALL_PHOTOS
        self.refresh_albums()
        self.show_album(self.current_album)
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
        self.folders["export"] = self._export_folder
        if self.view_state_path is not None:
            try:
                save_view_state(state, self.view_state_path)
            except OSError as exc:  # only the look of the window is lost: not worth a message box
                log.warning("view state not saved to %s: %s", self.view_state_path, exc)

    def _build_central(self) -> None:
        self.thumbnails = ThumbnailModel(self._thumbnail_loader(), self.settings.thumbnail_size, self)
        self.grid = QListView()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setSpacing(6)
        self.grid.setWordWrap(False)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setModel(self.thumbnails)
        self._apply_grid_size()
        self.grid.selectionModel().currentChanged.connect(
            lambda index, _: self.select_photo(index.data(PhotoIdRole)))
        self.grid.activated.connect(lambda index: self.open_photo(index.data(PhotoIdRole)))
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(
            lambda pos: self._popup(self.grid_menu(), self.grid.viewport(), pos))
        self.grid_empty = QLabel("Drop folders of photos here, or use File › Add folder…, "
                                 "to make an album.")
        self.grid_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_empty.setWordWrap(True)
        photos_page = QWidget()
        photos_layout = QVBoxLayout(photos_page)
        photos_layout.setContentsMargins(0, 0, 0, 0)
        photos_layout.addWidget(self.grid_empty)
        photos_layout.addWidget(self.grid, 1)

        self.faces_view = FaceOverlayView()
        self.faces_view.faceClicked.connect(self.name_face)
        self.face_list = QListWidget()
        self.face_list.setWordWrap(True)
        self.face_list.setSpacing(3)
        self.face_list.itemActivated.connect(lambda item: self.name_face(item.data(Qt.ItemDataRole.UserRole)))
        faces_side = QWidget()
        side_layout = QVBoxLayout(faces_side)
        side_layout.setContentsMargins(4, 0, 0, 0)
        side_layout.addWidget(QLabel("<b>Faces</b> — click a box to name it"))
        side_layout.addWidget(self.face_list, 1)
        faces_page = QSplitter()
        faces_page.addWidget(self.faces_view)
        faces_page.addWidget(faces_side)
        faces_page.setStretchFactor(0, 4)
        faces_page.setStretchFactor(1, 1)

        self.compare = CompareView()
        self.compare.faceClicked.connect(self._on_compare_face)
        self.compare.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.compare.customContextMenuRequested.connect(
            lambda pos: self._popup(self.compare_menu(), self.compare, pos))
        self.version_combo = QComboBox()
        self.version_combo.setMinimumContentsLength(18)
        self.version_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.version_combo.currentIndexChanged.connect(self._on_version_chosen)
        self.delete_version_button = QToolButton()  # icon only: a narrow window needs the room for the versions
        self.delete_version_button.setAutoRaise(True)
        self.delete_version_button.setIconSize(QSize(18, 18))
        self.compare_bar = QToolBar()
        self.compare_bar.setIconSize(QSize(18, 18))
        self.compare_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.compare_report = QListWidget()
        self.compare_report.setMaximumHeight(96)
        self.compare_report.setWordWrap(True)
        self.compare_page = QWidget()
        compare_layout = QVBoxLayout(self.compare_page)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Version:"))
        top.addWidget(self.version_combo)
        top.addWidget(self.delete_version_button)
        top.addWidget(self.compare_bar, 1)
        compare_layout.addLayout(top)
        compare_layout.addWidget(self.compare, 1)
        compare_layout.addWidget(self.compare_report)

        self.tabs = QTabWidget()
        self.tabs.addTab(photos_page, icon("photo"), "Photos")
        self.tabs.addTab(faces_page, icon("person"), "Faces")
        self.tabs.addTab(self.compare_page, icon("compare"), "Compare")
        self.setCentralWidget(self.tabs)

    def _build_docks(self) -> None:
        self.albums = AlbumList(self.import_paths)
        self.albums.currentItemChanged.connect(self._on_album_chosen)
        self.albums.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.albums.customContextMenuRequested.connect(
            lambda pos: self._popup(self.album_menu(self.albums.itemAt(pos) is not None), self.albums.viewport(),
                                    pos))
        albums_box = QWidget()
        albums_layout = QVBoxLayout(albums_box)
        albums_layout.setContentsMargins(4, 4, 4, 4)
        albums_layout.addWidget(self.albums, 1)
        add = QPushButton(icon("add-folder"), "Add folder…")
        add.clicked.connect(self.add_folder)
        albums_layout.addWidget(add)
        self.albums_dock = self._dock("Albums", albums_box, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.people_panel = PeoplePanel(self.library, self._reference_shows_a_face, folders=self.folders,
                                        parent=self)
        self.people_panel.message.connect(self.status)
        self.people_panel.peopleChanged.connect(self._on_people_changed)
        self.people_panel.restorePersonRequested.connect(self.restore_person)
        self.people_dock = self._dock("People", self.people_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.jobs_panel = JobQueuePanel(self.queue)
        self.jobs_dock = self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_panel = ProblemsPanel()
        self.problems_panel.countChanged.connect(
            lambda n: self.problems_dock.setWindowTitle(f"Problems ({n})" if n else "Problems"))
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.problems_dock = self._dock("Problems", self.problems_panel, bottom)
        self.resizeDocks([self.albums_dock, self.jobs_dock], [290, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.albums_dock, self.people_dock], [180, 520], Qt.Orientation.Vertical)
        self.resizeDocks([self.problems_dock], [170], Qt.Orientation.Vertical)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable[[], Any], shortcut: str | QKeySequence | None = None,
                icon_name: str | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _local_action(self, widget: QWidget, text: str, slot: Callable[[], Any], shortcut: str | QKeySequence,
                      icon_name: str | None = None) -> QAction:
        """An action whose key works only while ``widget`` (or a child) has the focus: Delete removes an album,
        photos or a version depending on where the user is."""
        action = QAction(text, widget)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _=False: slot())
        widget.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_add_folder = a("Add folder…", self.add_folder, "Ctrl+O", "add-folder")
        self.act_add_photos = a("Add photos…", self.add_photos, "Ctrl+Shift+O")
        self.act_new_album = a("New album…", self.new_album, "Ctrl+N", "album")
        self.act_export = a("Export restored…", self.export_selected, "Ctrl+E", "export")
        self.act_settings = a("Settings…", self.open_settings, "Ctrl+,", "settings")
        self.act_quit = a("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_restore = a("Restore selected photos", self.restore_selected, "Ctrl+R", "restore")
        self.act_restore_album = a("Restore album", self.restore_album, "Ctrl+Shift+R")
        self.act_restore_person = a("Restore photos of person", lambda: self.restore_person(
            self.people_panel.current_person_id()), None)
        self.act_find_faces = a("Find faces again", self.find_faces_selected, "Ctrl+Shift+F")
        self.act_finetune = a("Fine-tune personal model…", self.open_finetune, "Ctrl+T", "finetune")
        self.act_name_face = a("Name selected face…", self.name_selected_face, "N")
        self.act_use_suggested = a("Use suggested reference", self.people_panel.accept_suggested_reference,
                                   "Ctrl+Shift+U", "reference")
        self.act_tab_photos = a("Photos", lambda: self.tabs.setCurrentIndex(TAB_PHOTOS), "Ctrl+1")
        self.act_tab_faces = a("Faces", lambda: self.tabs.setCurrentIndex(TAB_FACES), "Ctrl+2")
        self.act_tab_compare = a("Compare", lambda: self.tabs.setCurrentIndex(TAB_COMPARE), "Ctrl+3")
        self.act_toggle = a("Before / after", self.toggle_compare, "T", "compare",
                            "Show the whole photo before or after restoring")
        self.act_split = a("Split", lambda: self.compare.set_mode(CompareMode.SPLIT), "S")
        self.act_fit = a("Fit", self.compare.fit, "Ctrl+0")
        self.act_actual = a("100%", self.compare.actual_size, "Ctrl+Alt+0")
        self.act_zoom_in = a("Zoom in", lambda: self._zoom(1.25), QKeySequence.StandardKey.ZoomIn)
        self.act_zoom_out = a("Zoom out", lambda: self._zoom(0.8), QKeySequence.StandardKey.ZoomOut)
        self.act_open_export = a("Show exported files", self.open_export_folder)
        self.act_help = a("About ENTED Desktop", self.about)
        delete = QKeySequence.StandardKey.Delete
        self.act_rename_album = self._local_action(self.albums, "Rename album…", self.rename_album, "F2")
        self.act_delete_album = self._local_action(self.albums, "Delete album…", self.delete_album, delete, "delete")
        self.act_remove_photos = self._local_action(self.grid, "Remove from album…", self.remove_selected_photos,
                                                    delete, "delete")
        self.act_delete_version = self._local_action(self.compare_page, "Delete this restored version…",
                                                     self.delete_version, delete, "delete")
        self.act_delete_version.setToolTip("Delete this restored version (Del)")
        self.act_delete_version.setEnabled(False)
        self.delete_version_button.setDefaultAction(self.act_delete_version)

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.act_add_folder, self.act_add_photos, self.act_new_album, None, self.act_export,
                       self.act_open_export, None, self.act_settings, None, self.act_quit):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        restore_menu = bar.addMenu("&Restore")
        for action in (self.act_restore, self.act_restore_album, self.act_restore_person, None,
                       self.act_find_faces, None, self.act_finetune):
            restore_menu.addSeparator() if action is None else restore_menu.addAction(action)
        people_menu = bar.addMenu("&People")
        panel = self.people_panel  # the selected person's actions, also in the people list's context menu
        for action in (self.act_name_face, self.act_use_suggested, None, panel.act_rename, panel.act_merge,
                       panel.act_delete):
            people_menu.addSeparator() if action is None else people_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        for action in (self.act_tab_photos, self.act_tab_faces, self.act_tab_compare, None, self.act_toggle,
                       self.act_split, self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out,
                       None):
            view_menu.addSeparator() if action is None else view_menu.addAction(action)
        for dock in (self.albums_dock, self.people_dock, self.jobs_dock, self.problems_dock):
            view_menu.addAction(dock.toggleViewAction())
        bar.addMenu("&Help").addAction(self.act_help)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setIconSize(QSize(22, 22))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.act_add_folder, self.act_restore, self.act_export, self.act_finetune,
                       self.act_settings):
            toolbar.addAction(action)
        for action in (self.act_toggle, self.act_split, self.act_fit, self.act_actual):
            self.compare_bar.addAction(action)

    # -- helpers ---------------------------------------------------------------------------------
    def status(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def _warn(self, text: str) -> None:
        self.status(text)
        QMessageBox.warning(self, "ENTED Desktop", text)

    def _reference_shows_a_face(self, path: Path) -> bool:
        """The people panel's check of a chosen reference image (runs on a worker thread)."""
        model_dir = self.settings.model_dir
        return shows_a_face(path, Path(model_dir) if model_dir else None)

    def _thumbnail_loader(self) -> Callable[[int], Path]:
        library, size = self.library, self.settings.thumbnail_size
        return lambda photo_id: library.thumbnail_path(photo_id, size)

    def _apply_grid_size(self) -> None:
        size = self.settings.thumbnail_size
        self.grid.setIconSize(QSize(size, size))
        self.grid.setGridSize(QSize(size + 24, size + 30))

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
    def _popup(menu: QMenu, widget: QWidget, pos: QPoint) -> None:
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(widget.mapToGlobal(pos))

    # -- albums and photos -----------------------------------------------------------------------
    def refresh_albums(self) -> None:
        current = self.current_album
        self.albums.blockSignals(True)
        self.albums.clear()
        total = len(self.library.photos())
        entries = [(ALL_PHOTOS, f"All photos ({total})")]
        entries += [(a.id, f"{a.name} ({a.photo_count})") for a in self.library.albums()]
        for album_id, text in entries:
            item = QListWidgetItem(icon("album"), text)
            item.setData(AlbumIdRole, album_id)
            self.albums.addItem(item)
            if album_id == current:
                self.albums.setCurrentItem(item)
        self.albums.blockSignals(False)

    def _on_album_chosen(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            self.show_album(int(item.data(AlbumIdRole)))

    def show_album(self, album_id: int) -> None:
        self.current_album = album_id
        album = None if album_id == ALL_PHOTOS else album_id
        photos = self.library.photos(album)
        restored = self.library.restored_photo_ids(album)
        self.thumbnails.set_photos([PhotoItem(p.id, p.path.name, p.id in restored) for p in photos])
        self.grid_empty.setVisible(not photos)
        if photos:
            self.grid.setCurrentIndex(self.thumbnails.index(0))
        else:
            self._show_no_photo()
        for action in (self.act_rename_album, self.act_delete_album, self.act_remove_photos):
            action.setEnabled(album is not None)

    def selected_photo_ids(self) -> list[int]:
        ids = [i.data(PhotoIdRole) for i in self.grid.selectionModel().selectedIndexes()]
        if not ids and self.current_photo is not None:
            ids = [self.current_photo]
        return sorted(set(ids))

    def select_photo(self, photo_id: int | None) -> None:
        if photo_id is None or photo_id == self.current_photo:
            return
        self.current_photo = photo_id
        self.current_version = None
        self.faces_view.set_message("Loading…")
        self._photo_image = None
        self._photo_unreadable = False
        self._version_image = None
        self.compare.set_images(QImage())
        self._load_photo(photo_id)
        self.refresh_faces()
        self.refresh_versions()

    def _show_no_photo(self) -> None:
        """No photo is chosen (an empty album, or the photo left the library): nothing of one stays on show."""
        self.current_photo = None
        self._photo_image = None
        self._photo_unreadable = False
        self.faces_view.set_message("Select a photo")
        self.compare.set_images(QImage())
        self.refresh_faces()
        self.refresh_versions()

    def _mark_restored(self, photo_id: int, restored: bool) -> None:
        row = self.thumbnails.row_of(photo_id)
        if row is not None:
            self.thumbnails.update_item(replace(self.thumbnails.items()[row], restored=restored))

    def open_photo(self, photo_id: int | None) -> None:
        self.select_photo(photo_id)
        self.tabs.setCurrentIndex(TAB_FACES)

    def _load_photo(self, photo_id: int) -> None:
        path = self.library.photo(photo_id).path
        self.calls.call(("photo", photo_id), lambda: qimage_from_rgb(read_image_rgb8(path)))

    def _on_loaded(self, key: object, value: object) -> None:
        if not isinstance(key, tuple):
            return
        if key == ("photo", self.current_photo):
            self._photo_image = value
            self.faces_view.set_photo(value, self._face_marks())  # type: ignore[arg-type]
            self._show_compare()
        elif key[0] == "version" and key[1] == self.current_version:
            self._version_image = value
            self._show_compare()
        elif key[0] == "removal":
            self._confirm_removal(key[1], key[2], value)  # type: ignore[arg-type]

    def _on_load_failed(self, key: object, message: str) -> None:
        if isinstance(key, tuple) and key == ("photo", self.current_photo):
            self._photo_unreadable = True
            self.faces_view.set_message(message)
            shown_alone = " Its restored version is shown alone in Compare." if self.current_version else ""
            self.status(message + shown_alone)
            self._show_compare()
        elif isinstance(key, tuple) and key[0] == "version":
            self.status(message)
        elif isinstance(key, tuple) and key[0] == "removal":
            if key[1] in {a.id for a in self.library.albums()}:
                self._warn(f"Nothing was removed: {message}")
            else:
                self._album_gone(f"Nothing was removed: {message}")

    # -- faces -----------------------------------------------------------------------------------
    def _people(self) -> dict[int, Person]:
        return {p.id: p for p in self.library.people()}

    def _face_marks(self) -> list[FaceMark]:
        if self.current_photo is None:
            return []
        people = self._people()
        marks = []
        for face in self.library.faces_of_photo(self.current_photo):
            label, named = face_label(face, people)
            marks.append(FaceMark(face.id, box_rect(face.box), label, named))
        return marks

    def refresh_faces(self) -> None:
        self.face_list.clear()
        if self.current_photo is None:
            return
        photo = self.library.photo(self.current_photo)
        faces = self.library.faces_of_photo(self.current_photo)
        people = self._people()
        if photo.faces_detector is None:
            self.face_list.addItem("Looking for faces…")
        elif not faces:
            self.face_list.addItem("No faces found in this photo.")
        for number, face in enumerate(faces, 1):
            item = QListWidgetItem(f"Face {number} — {face_plan(face, people)}")
            item.setData(Qt.ItemDataRole.UserRole, face.id)
            self.face_list.addItem(item)
        if self._photo_image is not None:
            self.faces_view.set_faces(self._face_marks())
        self.compare.set_faces([box_rect(f.box) for f in faces])

    def name_selected_face(self) -> None:
        face_id = self.faces_view.selected_face()
        if face_id is None:
            marks = self.faces_view.faces()
            unnamed = [m for m in marks if not m.named] or marks
            if not unnamed:
                self.status("This photo has no faces to name.")
                return
            face_id = unnamed[0].face_id
            self.faces_view.select_face(face_id)
        self.name_face(face_id)

    def name_face(self, face_id: int | None) -> None:
        if face_id is None:
            return
        try:
            face = self.library.face(face_id)
        except UserError as exc:
            self.status(str(exc))
            return
        # Cut from the photo the Faces tab already decoded: no file is read here on the main thread.
        # Naming needs no pixels, so an unreadable or still-loading photo just gives no picture.
        loaded = self._photo_image if face.photo_id == self.current_photo else None
        crop = cut_face(loaded, face.box, 1.0, 96) if loaded is not None else None
        dialog = NameFaceDialog(self.library.people(), face.person_id, crop, self)
        if dialog.exec() != NameFaceDialog.DialogCode.Accepted:
            return
        try:
            if dialog.unname:
                self.library.unassign_faces([face_id])
                self.status("The face has no name now.")
            elif dialog.person_id() is not None:
                self.library.assign_faces([face_id], dialog.person_id())
                self.status(f"Named {dialog.new_name()}.")
            else:
                person_id = self.library.create_person(dialog.new_name(), [face_id])
                self.status(f"Added {dialog.new_name()}.")
                self.people_panel.refresh()
                self.people_panel.select_person(person_id)
        except UserError as exc:
            self._warn(str(exc))
            return
        self._on_people_changed()

    def _on_people_changed(self) -> None:
        self.refresh_faces()
        self.people_panel.refresh()

    # -- versions and compare --------------------------------------------------------------------
    def refresh_versions(self, choose: int | None = None) -> None:
        self.version_combo.blockSignals(True)
        self.version_combo.clear()
        versions: list[Version] = self.library.versions(self.current_photo) if self.current_photo else []
        metrics = self.version_combo.fontMetrics()
        for number, version in enumerate(versions, 1):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created))
            text = f"{number}: {version.model}, {stamp}"
            self.version_combo.addItem(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, VERSION_TEXT_MAX_PX),
                                       version.id)
            self.version_combo.setItemData(number - 1, text, Qt.ItemDataRole.ToolTipRole)
        if not versions:
            self.version_combo.addItem("Not restored yet" if self.current_photo else "No photo selected", None)
        index = self.version_combo.findData(choose) if choose is not None else self.version_combo.count() - 1
        self.version_combo.setCurrentIndex(max(0, index))
        self.version_combo.blockSignals(False)
        self._on_version_chosen()

    def _on_version_chosen(self, *_: object) -> None:
        version_id = self.version_combo.currentData()
        self.version_combo.setToolTip(self.version_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        self.current_version = version_id
        self._version_image = None
        self.compare_report.clear()
        self.act_delete_version.setEnabled(version_id is not None)
        if version_id is None:
            if self.current_photo is not None:
                self.compare_report.addItem("Not restored yet: press Ctrl+R to restore this photo.")
            self._show_compare()
            return
        version = self.library.version(version_id)
        for number, report in enumerate(version.report.get("faces", []), 1):
            self.compare_report.addItem(f"Face {number} — {face_outcome(report)}")
        if not version.report.get("faces"):
            self.compare_report.addItem("No faces were restored in this version.")
        path = version.path
        self.calls.call(("version", version_id), lambda: qimage_from_rgb(read_image_rgb8(path)))

    def _show_compare(self) -> None:
        if self.current_photo is None:
            return
        after = self._version_image if self.current_version is not None else None
        before = self._photo_image
        if before is None:
            if not self._photo_unreadable:
                return
            before = QImage()  # the version alone (or nothing, when it has none left) rather than a stale one
        self.compare.set_images(before, after)  # keeps the mode, and the divider while the photo is the same
        faces = self.library.faces_of_photo(self.current_photo)
        self.compare.set_faces([box_rect(f.box) for f in faces])

    def _on_compare_face(self, index: int) -> None:
        if 0 <= index < self.compare_report.count():
            self.compare_report.setCurrentRow(index)

    def toggle_compare(self) -> None:
        self.tabs.setCurrentIndex(TAB_COMPARE)
        self.compare.toggle()

    def _zoom(self, factor: float) -> None:
        self.compare.zoom_at(factor, self.compare.rect().center().toPointF())

    # -- importing -------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = dropped_paths(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths, None)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", start_folder(self.folders, "import"))
        if folder:
            self.folders["import"] = folder
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
            try:
                album_id = self.library.create_album(name)
            except UserError as exc:
                self._warn(str(exc))
                return
            self.current_album = album_id
            self.refresh_albums()
            self.show_album(album_id)

    def import_paths(self, paths: list[Path], album_id: int | None) -> None:
        """Import dropped or chosen folders and files into ``album_id`` (a new album when None)."""
        if not paths:
            return
        try:
            if album_id is None:
                album_id = self.library.create_album(self.library.free_album_name(album_name_for(paths)))
        except UserError as exc:
            self._warn(str(exc))
            return
        self.current_album = album_id
        self.refresh_albums()
        self.show_album(album_id)
        names = ", ".join(p.name or str(p) for p in paths[:2]) + ("…" if len(paths) > 2 else "")
        self.queue.submit("import", {"album_id": album_id, "paths": [str(p) for p in paths],
                                     "title": f"Import {names}", "source": names})
        self.status(f"Importing {names}…")

    # -- job results -----------------------------------------------------------------------------
    def request_face_detection(self) -> None:
        """Look for faces in photos that have none recorded yet, one detect job at a time.

        Called as photos arrive (during an import), when an import or a detect job ends, and at start.
        A photo is given to a detect job once per session, so an unreadable one cannot loop."""
        if any(e.kind == "detect" for e in self.queue.active()):
            self._detect_again = True
            return
        self._detect_again = False
        ids = [i for i in self.library.photos_needing_faces() if i not in self._detect_tried]
        if ids:
            self._detect_tried.update(ids)
            self.submit_detection(ids)

    def submit_detection(self, photo_ids: list[int]) -> None:
        title = f"Find faces in {count(len(photo_ids), 'photo')}"
        self.queue.submit("detect", {"photo_ids": photo_ids, "title": title})

    def _on_job_event(self, job_id: int, event: object) -> None:
        if isinstance(event, PhotosArrived):
            self.request_face_detection()
        elif isinstance(event, FacesFound):
            if event.photo_id == self.current_photo:
                self.refresh_faces()
            self._suggest_timer.start()
        elif isinstance(event, VersionMade):
            self._mark_restored(event.photo_id, True)
            if event.photo_id == self.current_photo:
                self.refresh_versions(choose=event.version_id)

    def _on_job_finished(self, job_id: int, state: str) -> None:
        entry = self.queue.entries.get(job_id)
        if entry is None:
            return
        outcome = entry.result if isinstance(entry.result, Outcome) else None
        if entry.kind == "import" and outcome is not None:
            report = outcome.value
            self.problems_panel.add_problems(outcome.problems, entry.payload.get("source", ""))
            if outcome.problems:
                self.problems_dock.raise_()
            self.refresh_albums()
            self.show_album(self.current_album)
            self._detect_tried.difference_update(report.updated)  # changed photos need their faces again
            self.request_face_detection()
        elif entry.kind == "detect":
            self.people_panel.refresh(faces_changed=True)
            if self._detect_again:
                self.request_face_detection()
            if outcome is not None and outcome.problems:
                self.problems_panel.add_problems(outcome.problems, "face detection")
        elif entry.kind == "restore" and outcome is not None and outcome.problems:
            self.problems_panel.add_problems(outcome.problems, "restoring")
        elif entry.kind == "export" and outcome is not None:
            self.last_export = [e.path for e in outcome.value]
        elif entry.kind == "finetune" and state == "done" and not any(
                d.job_id == job_id for d in self.findChildren(FinetuneDialog)):
            self.show_finetune_job(job_id)  # re-run from the Jobs panel: its result still needs a choice
        if state == "failed":
            self.status(f"{entry.title} failed: {entry.error}")
        elif state == "done":
            self.status(entry.text)

    # -- restoring, exporting --------------------------------------------------------------------
    def _restore(self, photo_ids: list[int], title: str) -> None:
        if not photo_ids:
            self.status("Select photos to restore first.")
            return
        self.queue.submit("restore", {"photo_ids": photo_ids, "title": title})
        self.jobs_dock.raise_()
        self.status(f"{title}: queued.")

    def restore_selected(self) -> None:
        ids = self.selected_photo_ids()
        self._restore(ids, f"Restore {count(len(ids), 'photo')}")

    def restore_album(self) -> None:
        album_id = None if self.current_album == ALL_PHOTOS else self.current_album
        ids = [p.id for p in self.library.photos(album_id)]
        name = "all photos" if album_id is None else self.library.album(album_id).name
        self._restore(ids, f"Restore {name}")

    def restore_person(self, person_id: int | None) -> None:
        if person_id is None:
            return
        ids = sorted({f.photo_id for f in self.library.faces_of_person(person_id)})
        name = self.library.person(person_id).name
        if not ids:
            self.status(f"{name} has no faces yet, so there are no photos of them to restore.")
            return
        self._restore(ids, f"Restore photos of {name}")

    def find_faces_selected(self) -> None:
        ids = self.selected_photo_ids()
        if ids:
            self.submit_detection(ids)

    def _latest_versions(self, photo_ids: list[int]) -> tuple[int, ...]:
        """The newest version of each of the photos that has one."""
        return tuple(versions[-1].id for versions in map(self.library.versions, photo_ids) if versions)

    def export_scopes(self) -> list[ExportScope]:
        """What Export offers: the selected photos when several are selected; else this photo (the version
        shown in Compare) and every restored photo of the album. Empty when none of them is restored."""
        selected = sorted({i.data(PhotoIdRole) for i in self.grid.selectionModel().selectedIndexes()})
        shown = self.current_version if self.tabs.currentIndex() == TAB_COMPARE else None
        if len(selected) > 1 and shown is None:
            ids = self._latest_versions(selected)
            return [ExportScope(f"The {count(len(ids), 'selected restored photo')}", ids)] if ids else []
        scopes = []
        this: tuple[int, ...] = ()
        if shown is not None:
            this = (shown,)
        elif self.current_photo is not None:
            this = self._latest_versions([self.current_photo])
        if this and self.current_photo is not None:
            scopes.append(ExportScope(f"This photo ({self.library.photo(self.current_photo).path.name})", this))
        album = None if self.current_album == ALL_PHOTOS else self.current_album
        everything = self._latest_versions(sorted(self.library.restored_photo_ids(album)))
        if everything and everything != this:
            where = "the library" if album is None else self.library.album(album).name
            scopes.append(ExportScope(f"{count(len(everything), 'restored photo')} in {where}", everything))
        return scopes

    def export_selected(self) -> None:
        scopes = self.export_scopes()
        if not scopes:
            self._warn("None of these photos has been restored yet; restore them before exporting.")
            return
        self._export(scopes)

    def _export(self, scopes: list[ExportScope]) -> bool:
        """Ask where and how, then queue the export; False when the user cancelled."""
        dialog = ExportDialog(scopes, self.settings, self._export_folder, self)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return False
        choice = dialog.choice()
        self._export_folder = choice.dest
        self.queue.submit("export", {"version_ids": list(choice.version_ids), "dest": choice.dest,
                                     "format": choice.format, "quality": choice.quality, "pattern": choice.pattern,
                                     "title": f"Export {count(len(choice.version_ids), 'photo')}"})
        return True

    def open_export_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self._export_folder))

    # -- renaming and removing albums, photos and versions ----------------------------------------
    def rename_album(self) -> None:
        album_id = self.current_album
        if album_id == ALL_PHOTOS:
            return
        try:
            old = self.library.album(album_id).name
        except UnknownItemError as exc:
            self._album_gone(str(exc))
            return
        name, ok = QInputDialog.getText(self, "Rename album", "Album name:", text=old)
        if not ok or name == old:
            return
        try:
            self.library.rename_album(album_id, name)
            new = self.library.album(album_id).name
        except UnknownItemError as exc:
            self._album_gone(str(exc))
            return
        except UserError as exc:  # an empty name, or another album's
            self._warn(str(exc))
            return
        self.refresh_albums()
        self.status(f'The album "{old}" is now called "{new}".')

    def _album_gone(self, message: str) -> None:
        """The album left the library before the action reached it: say so and show every photo."""
        self._warn(message)
        self.current_album = ALL_PHOTOS
        self.refresh_albums()
        self.show_album(ALL_PHOTOS)

    def delete_album(self) -> None:
        if self.current_album != ALL_PHOTOS:
            self._count_removal(self.current_album, None)

    def remove_selected_photos(self) -> None:
        if self.current_album == ALL_PHOTOS:
            self.status("Open an album to remove photos from it.")
            return
        # Only the photos shown selected: the grid's current photo is not highlighted once unselected (a
        # Ctrl+click, or the photo that took the place of removed ones), so it is never taken out unseen.
        ids = sorted({i.data(PhotoIdRole) for i in self.grid.selectionModel().selectedIndexes()})
        if not ids:
            self.status("Select the photos to remove first.")
            return
        self._count_removal(self.current_album, tuple(ids))

    def _count_removal(self, album_id: int, photo_ids: tuple[int, ...] | None) -> None:
        """Find out in the background what taking the photos (all: None) out of the album does, then ask."""
        library = self.library
        if self.calls.call(("removal", album_id, photo_ids), lambda: removal_cost(library, album_id, photo_ids)):
            self.status("Counting the photos and restored versions concerned…")

    def _confirm_removal(self, album_id: int, photo_ids: tuple[int, ...] | None, cost: RemovalCost) -> None:
        """Ask; once the user says remove, count again (jobs may have made restored versions meanwhile) and
        remove only if nothing more would be lost than the question said, else ask again with the new counts."""
        self.statusBar().clearMessage()  # "Counting…" is over
        if photo_ids is not None and not cost.photos:
            self.status("Those photos are no longer in the album.")
            return
        changed = False
        while True:
            answer = self._ask_removal(album_id, photo_ids, cost, changed)
            if answer == "export":
                self._export_before_removal(cost)
            if answer != "remove":
                return
            try:
                now = removal_cost(self.library, album_id, photo_ids)
            except UnknownItemError as exc:
                self._album_gone(f"Nothing was removed: {exc}")
                return
            if photo_ids is not None and not now.photos:
                self.status("Those photos are no longer in the album.")
                return
            if not more_lost(cost, now):
                self._remove(album_id, photo_ids, now)
                return
            cost, changed = now, True

    def _ask_removal(self, album_id: int, photo_ids: tuple[int, ...] | None, cost: RemovalCost,
                     changed: bool) -> Answer:
        if photo_ids is None:
            title, question, action = "Delete album", f'Delete the album "{cost.album}"?', "Delete album"
        else:
            title = action = "Remove from album"
            what = f'"{cost.name}"' if cost.name is not None else count(cost.photos, "photo")
            question = f'Remove {what} from the album "{cost.album}"?'
        details = removal_details(cost) + unfinished_job_notes(
            self.queue.active(), cost.leaving, cost.versions, album_id if photo_ids is None else None)
        if changed:
            details.insert(0, "Nothing was removed yet: while the question was open, unfinished jobs changed what "
                              "would be lost. These are the new counts.")
        box = ConfirmRemoval(title, question, details, action, can_export=bool(cost.versions), parent=self)
        answer = box.ask()
        box.deleteLater()
        return answer

    def _export_before_removal(self, cost: RemovalCost) -> None:
        n = len(cost.newest)
        scopes = [ExportScope(f"The newest restored version of {'the photo' if n == 1 else f'each of the {n} photos'} "
                              "leaving the library", cost.newest)]
        if len(cost.versions) > n:
            scopes.append(ExportScope(f"All {count(len(cost.versions), 'restored version')} that would be deleted",
                                      cost.versions))
        if self._export(scopes):
            self.jobs_dock.raise_()
            self.status("Exporting; nothing was removed. Remove the photos once the export is done.")

    def _remove(self, album_id: int, photo_ids: tuple[int, ...] | None, done: RemovalCost) -> None:
        """Done here rather than in the background, so the window never shows a photo that has already gone; one
        transaction and the deletion of the restored versions' files. ``done`` was counted just before: no more
        than the user was told, and what the status message reports."""
        taken = [p.id for p in self.library.photos(album_id)] if photo_ids is None else list(photo_ids)
        try:
            with busy_cursor():
                self.library.album(album_id)  # taking photos out of an album deleted meanwhile would do nothing
                if photo_ids is None:
                    self.library.delete_album(album_id)
                else:
                    self.library.remove_photos_from_album(album_id, photo_ids)
        except UnknownItemError as exc:
            self._album_gone(f"Nothing was removed: {exc}")
            return
        gone = {i for i in taken if not self.library.photo_albums(i)}
        self._detect_tried -= gone  # the library may give a deleted photo's id to the next photo imported
        if self.current_photo in gone:
            self._show_no_photo()
        deleted_shown = photo_ids is None and self.current_album == album_id
        if deleted_shown:
            self.current_album = ALL_PHOTOS
        self.refresh_albums()
        self.thumbnails.forget(gone)
        if deleted_shown:
            self.show_album(ALL_PHOTOS)
        else:
            self.thumbnails.remove_photos(taken if self.current_album == album_id else gone)
            self.grid_empty.setVisible(not self.thumbnails.rowCount())
            if not self.thumbnails.rowCount():
                self._show_no_photo()
            elif self.current_photo is None:  # the grid moved its current row next to the removed ones
                index = self.grid.currentIndex() if self.grid.currentIndex().isValid() else self.thumbnails.index(0)
                self.grid.setCurrentIndex(index)
                self.select_photo(index.data(PhotoIdRole))
        self.people_panel.refresh(faces_changed=True)  # faces on the photos that left are gone, maybe a reference
        self.status(removal_summary(done, album_deleted=photo_ids is None))

    def delete_version(self) -> None:
        photo_id, version_id = self.current_photo, self.current_version
        if photo_id is None or version_id is None:
            return
        try:
            name = self.library.photo(photo_id).path.name
            version = self.library.version(version_id)
        except UnknownItemError as exc:
            self._warn(str(exc))
            self.refresh_versions()
            return
        number = [v.id for v in self.library.versions(photo_id)].index(version_id) + 1
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created))
        details = [f"It was made with {version.model} on {made}. Its file in the library will be deleted; the "
                   "original photo, the other restored versions and any copies you exported are not touched.",
                   *unfinished_job_notes(self.queue.active(), (), (version_id,))]
        box = ConfirmRemoval("Delete restored version", f'Delete restored version {number} of "{name}"?', details,
                             "Delete version", can_export=True, parent=self)
        answer = box.ask()
        box.deleteLater()
        if answer == "export":
            if self._export([ExportScope(f"Restored version {number} of {name}", (version_id,))]):
                self.status("Exporting; the version was not deleted.")
            return
        if answer != "remove":
            return
        try:
            self.library.delete_version(version_id)
        except UnknownItemError as exc:
            self._warn(str(exc))  # gone meanwhile: the versions there are are shown below
        else:
            self.status(f"Deleted restored version {number} of {name}; the original is untouched.")
        left = [v.id for v in self.library.versions(photo_id)]
        if not left:
            self._mark_restored(photo_id, False)
        if self.current_photo == photo_id:  # the next newer version, else the newest left, else the original
            self.refresh_versions(choose=next((i for i in left if i > version_id), left[-1] if left else None))

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
            self.thumbnails.set_loader(self._thumbnail_loader(), self.settings.thumbnail_size)
            self._apply_grid_size()
        self.status("Settings saved.")

    def _finetune_dialog(self) -> FinetuneDialog:
        candidates = [FinetuneCandidate(p.id, p.name, len({f.photo_id for f in self.library.faces_of_person(p.id)}),
                                        tuple(finetune_photos(self.library, p.id)))
                      for p in self.library.people()]
        dialog = FinetuneDialog(candidates, queue=self.queue, on_keep=self._keep_personal_model,
                                on_discard=self._discard_personal_model, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return dialog

    def open_finetune(self) -> FinetuneDialog:
        dialog = self._finetune_dialog()
        dialog.open()
        return dialog

    def show_finetune_job(self, job_id: int) -> FinetuneDialog:
        dialog = self._finetune_dialog()
        dialog.show_job(job_id)
        dialog.open()
        return dialog

    def _keep_personal_model(self, person_id: int, result: Any) -> None:
        """Use the new model for the person; the one it replaces is deleted when it was made for them here."""
        from ented_desktop.core.weights import remove_model

        new = Path(result.model_path).absolute()
        previous = self.library.person(person_id).personal_model
        self.library.set_personal_model(person_id, new)
        if previous is not None and previous != new and previous.parent == new.parent:
            remove_model(previous)
        self.people_panel.refresh()
        self.refresh_faces()

    def _discard_personal_model(self, person_id: int, result: Any) -> None:
        from ented_desktop.core.weights import remove_model

        remove_model(result.model_path)

    def about(self) -> None:
        QMessageBox.about(self, "ENTED Desktop",
                          "ENTED Desktop restores the faces in old family photos with ENTED, a "
                          "reference-based face restoration method: name the people, pick a good photo "
                          "of each as their reference, and restore.")

    # -- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the jobs and wait for every background call, so the library can be closed safely."""
        self.queue.stop_all()
        self.calls.shutdown()
        self.people_panel.calls.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        running = [e for e in self.queue.active() if e.state == "running"]
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
