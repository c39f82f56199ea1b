"""The window's actions, menus and toolbars; a key of an action local to a widget works only there. Actions
that need a photo are disabled while there is none (:meth:`WindowActions.update_enabled`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import (
    QAction,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QWidget,
)

from ented_desktop.gui.compare_view import CompareMode
from ented_desktop.gui.icons import icon
from ented_desktop.gui.restore_options import add_restore_options
from ented_desktop.gui.tabs import TAB_COMPARE, TAB_FACES, TAB_PHOTOS

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class WindowActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def _action(self, text: str, slot: Callable[[], Any], shortcut: str | QKeySequence | None = None,
                icon_name: str | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self.window)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        self.window.addAction(action)  # shortcuts work even when the menu bar is hidden
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

    def _page_action(self, text: str, slot: Callable[[], Any], keys: list[Qt.Key]) -> QAction:
        """An action whose keys work while a tab's page has the focus: the lists in the docks, and any text
        field (it claims its keys first), keep their arrows, Page keys and Space."""
        action = QAction(text, self.window.tabs)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _=False: slot())
        self.window.tabs.addAction(action)
        return action

    def update_enabled(self) -> None:
        """Actions on photos are enabled only while a photo is shown, on the album only while it has photos."""
        w = self.window
        has_photo = w.current_photo is not None
        for action in (w.act_restore, w.act_find_faces, w.act_export, w.act_name_face, w.act_toggle, w.act_split,
                       w.act_fit, w.act_actual, w.act_zoom_in, w.act_zoom_out, w.act_next_photo, w.act_previous_photo):
            action.setEnabled(has_photo)
        w.act_restore_album.setEnabled(w.thumbnails.rowCount() > 0)

    def build(self) -> None:
        w = self.window
        a = self._action
        page = self._page_action
        w.act_next_photo = page("Next photo", lambda: w.photos_page.step_photo(1),
                                [Qt.Key.Key_Right, Qt.Key.Key_PageDown, Qt.Key.Key_Space])
        w.act_previous_photo = page("Previous photo", lambda: w.photos_page.step_photo(-1),
                                    [Qt.Key.Key_Left, Qt.Key.Key_PageUp])
        w.act_add_folder = a("Add folder…", w.add_folder, "Ctrl+O", "add-folder")
        w.act_add_photos = a("Add photos…", w.add_photos, "Ctrl+Shift+O")
        w.act_new_album = a("New album…", w.new_album, "Ctrl+N", "album")
        w.act_export = a("Export restored…", w.photo_actions.export_selected, "Ctrl+E", "export")
        w.act_settings = a("Settings…", w.open_settings, "Ctrl+,", "settings")
        w.act_quit = a("Quit", w.close, QKeySequence.StandardKey.Quit)
        w.act_restore = a("Restore selected photos", w.photo_actions.restore_selected, "Ctrl+R", "restore")
        w.act_restore_album = a("Restore album", w.photo_actions.restore_album, "Ctrl+Shift+R")
        w.act_restore_person = a("Restore photos of person", lambda: w.photo_actions.restore_person(
            w.people_panel.current_person_id()), None)
        w.act_find_faces = a("Find faces again", w.photo_actions.find_faces_selected, "Ctrl+Shift+F")
        w.act_finetune = a("Fine-tune personal model…", w.open_finetune, "Ctrl+T", "finetune")
        w.act_name_face = a("Name selected face…", w.faces_page.name_selected_face, "N")
        w.act_use_suggested = a("Use suggested reference", w.people_panel.references.accept_suggested_reference,
                                   "Ctrl+Shift+U", "reference")
        w.act_tab_photos = a("Photos", lambda: w.tabs.setCurrentIndex(TAB_PHOTOS), "Ctrl+1")
        w.act_tab_faces = a("Faces", lambda: w.tabs.setCurrentIndex(TAB_FACES), "Ctrl+2")
        w.act_tab_compare = a("Compare", lambda: w.tabs.setCurrentIndex(TAB_COMPARE), "Ctrl+3")
        w.act_toggle = a("Before / after", w.compare_tab.toggle_compare, "T", "compare",
                            "Show the whole photo before or after restoring")
        w.act_split = a("Split", lambda: w.compare.set_mode(CompareMode.SPLIT), "S")
        w.act_fit = a("Fit", w.compare.fit, "Ctrl+0")
        w.act_actual = a("100%", w.compare.actual_size, "Ctrl+Alt+0")
        w.act_zoom_in = a("Zoom in", lambda: w.compare_tab._zoom(1.25), QKeySequence.StandardKey.ZoomIn)
        w.act_zoom_out = a("Zoom out", lambda: w.compare_tab._zoom(0.8), QKeySequence.StandardKey.ZoomOut)
        w.act_open_export = a("Show exported files", w.photo_actions.open_export_folder)
        w.act_help = a("About ENTED Desktop", w.about)
        delete = QKeySequence.StandardKey.Delete
        w.act_rename_album = self._local_action(w.albums, "Rename album…", w.rename_album, "F2")
        removal = w.removal
        w.act_delete_album = self._local_action(w.albums, "Delete album…", removal.delete_album, delete, "delete")
        w.act_remove_photos = self._local_action(w.grid, "Remove from album…", removal.remove_selected_photos,
                                                    delete, "delete")
        w.act_delete_version = self._local_action(w.compare_page, "Delete this restored version…",
                                                     w.removal.delete_version, delete, "delete")
        w.act_delete_version.setToolTip("Delete this restored version (Del)")
        w.act_delete_version.setEnabled(False)
        w.delete_version_button.setDefaultAction(w.act_delete_version)

        bar = w.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (w.act_add_folder, w.act_add_photos, w.act_new_album, None, w.act_export,
                       w.act_open_export, None, w.act_settings, None, w.act_quit):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        restore_menu = bar.addMenu("&Restore")
        for action in (w.act_restore, w.act_restore_album, w.act_restore_person, None,
                       w.act_find_faces, None, w.act_finetune):
            restore_menu.addSeparator() if action is None else restore_menu.addAction(action)
        people_menu = bar.addMenu("&People")
        panel = w.people_panel  # the selected person's actions, also in the people list's context menu
        for action in (w.act_name_face, w.act_use_suggested, None, panel.act_rename, panel.act_merge,
                       panel.act_delete):
            people_menu.addSeparator() if action is None else people_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        for action in (w.act_tab_photos, w.act_tab_faces, w.act_tab_compare, None, w.act_next_photo,
                       w.act_previous_photo, None, w.act_toggle,
                       w.act_split, w.act_fit, w.act_actual, w.act_zoom_in, w.act_zoom_out,
                       None):
            view_menu.addSeparator() if action is None else view_menu.addAction(action)
        for dock in (w.albums_dock, w.people_dock, w.jobs_dock, w.problems_dock):
            view_menu.addAction(dock.toggleViewAction())
        bar.addMenu("&Help").addAction(w.act_help)

        toolbar = w.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setIconSize(QSize(22, 22))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (w.act_add_folder, w.act_restore, w.act_export, w.act_finetune,
                       w.act_settings):
            toolbar.addAction(action)
        for action in (w.act_toggle, w.act_split, w.act_fit, w.act_actual):
            w.compare_bar.addAction(action)
        add_restore_options(w, restore_menu)  # its toolbar under the main one, and Restore > Models…
