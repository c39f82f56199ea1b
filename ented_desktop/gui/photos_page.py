"""The albums list and the photo grid: which album and photo are shown, the photo loaded in the background, and
the next or previous photo from any tab."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.gui.album_list import ALL_PHOTOS, AlbumIdRole
from ented_desktop.gui.drop_area import DropArea
from ented_desktop.gui.icons import icon
from ented_desktop.gui.qimage import qimage_from_rgb
from ented_desktop.gui.tabs import TAB_COMPARE, TAB_FACES
from ented_desktop.gui.thumbnail_model import PhotoIdRole, PhotoItem, ThumbnailModel

if TYPE_CHECKING:
    from ented_desktop.gui.main_window import MainWindow


class PhotosPage:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def thumbnail_loader(self) -> Callable[[int], Path]:
        library, size = self.window.library, self.window.settings.thumbnail_size
        return lambda photo_id: library.photos.thumbnail_path(photo_id, size)

    def version_thumbnail_loader(self) -> Callable[[int], Path]:
        library, size = self.window.library, self.window.settings.thumbnail_size
        return lambda version_id: library.versions.thumbnail_path(version_id, size)

    def set_thumbnail_size(self) -> None:
        """The thumbnails at the size the settings say (changed there): loaded again, and the grid laid out anew."""
        self.window.thumbnails.set_loader(self.thumbnail_loader(), self.window.settings.thumbnail_size,
                                          self.version_thumbnail_loader())
        self.apply_grid_size()

    def apply_grid_size(self) -> None:
        """Cells that hold the square thumbnail and a line of its name, in the grid's own font."""
        size, grid = self.window.settings.thumbnail_size, self.window.grid
        margin = 2 * grid.style().pixelMetric(grid.style().PixelMetric.PM_FocusFrameHMargin, None, grid) + 4
        grid.setIconSize(QSize(size, size))
        grid.setGridSize(QSize(size + 2 * margin, size + grid.fontMetrics().height() + 3 * margin))

    def refresh_albums(self) -> None:
        current = self.window.current_album
        self.window.albums.blockSignals(True)
        self.window.albums.clear()
        total = len(self.window.library.photos.all())
        entries = [(ALL_PHOTOS, f"All photos ({total})")]
        entries += [(a.id, f"{a.name} ({a.photo_count})") for a in self.window.library.albums.all()]
        for album_id, text in entries:
            item = QListWidgetItem(icon("album"), text)
            item.setData(AlbumIdRole, album_id)
            self.window.albums.addItem(item)
            if album_id == current:
                self.window.albums.setCurrentItem(item)
        self.window.albums.blockSignals(False)

    def on_album_chosen(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            self.show_album(int(item.data(AlbumIdRole)))

    def show_album(self, album_id: int) -> None:
        self.window.current_album = album_id
        album = None if album_id == ALL_PHOTOS else album_id
        library = self.window.library
        photos = library.photos.all(album)
        restored = library.versions.restored_photo_ids(album)
        self.window.thumbnails.set_photos([PhotoItem(p.id, p.path.name, self._newest_version(p.id, restored))
                                           for p in photos])
        self.window.grid_empty.setVisible(not photos)
        self.window.grid.setVisible(bool(photos))
        if photos:
            self.window.grid.setCurrentIndex(self.window.thumbnails.index(0))
        else:
            self.show_no_photo()
        for action in (self.window.act_rename_album, self.window.act_delete_album, self.window.act_remove_photos):
            action.setEnabled(album is not None)
        self.window.actions.update_enabled()

    def _newest_version(self, photo_id: int, restored: set[int] | None = None) -> int | None:
        """The photo's newest restored version, which its thumbnail shows (None: not restored)."""
        if restored is not None and photo_id not in restored:
            return None
        versions = self.window.library.versions.of_photo(photo_id)
        return versions[-1].id if versions else None

    def selected_photo_ids(self) -> list[int]:
        ids = [i.data(PhotoIdRole) for i in self.window.grid.selectionModel().selectedIndexes()]
        if not ids and self.window.current_photo is not None:
            ids = [self.window.current_photo]
        return sorted(set(ids))

    def select_photo(self, photo_id: int | None) -> None:
        if photo_id is None or photo_id == self.window.current_photo:
            return
        self.window.current_photo = photo_id
        self.window.current_version = None
        self.window.faces_view.set_message("Loading…")
        self.window.photo_image = None
        self.window.photo_unreadable = False
        self.window.version_image = None
        self.window.compare.set_images(QImage())
        self._load_photo(photo_id)
        self.window.faces_page.refresh_faces()
        self.window.compare_tab.refresh_versions()
        self.window.actions.update_enabled()

    def show_no_photo(self) -> None:
        """No photo is chosen (an empty album, or the photo left the library): nothing of one stays on show."""
        self.window.current_photo = None
        self.window.photo_image = None
        self.window.photo_unreadable = False
        self.window.faces_view.set_message("Select a photo")
        self.window.compare.set_images(QImage())
        self.window.faces_page.refresh_faces()
        self.window.compare_tab.refresh_versions()
        self.window.actions.update_enabled()

    def mark_restored(self, photo_id: int, restored: bool) -> None:
        """A version of the photo was made or deleted: its thumbnail shows the newest one left, else the
        original (``restored``: whether it was made)."""
        row = self.window.thumbnails.row_of(photo_id)
        if row is not None:
            version_id = self._newest_version(photo_id) if restored or self.window.thumbnails.items()[row].restored \
                else None
            self.window.thumbnails.update_item(replace(self.window.thumbnails.items()[row], version_id=version_id))

    def open_photo(self, photo_id: int | None) -> None:
        """A double-clicked (or Enter) photo: Compare when it has been restored, else its faces."""
        if photo_id is None:
            return
        self.select_photo(photo_id)
        row = self.window.thumbnails.row_of(photo_id)
        restored = row is not None and self.window.thumbnails.items()[row].restored
        self.window.tabs.setCurrentIndex(TAB_COMPARE if restored else TAB_FACES)

    def step_photo(self, step: int) -> None:
        """The next (``step`` 1) or previous (-1) photo of the album, from any tab; at either end it stays."""
        model, grid = self.window.thumbnails, self.window.grid
        if model.rowCount() == 0:
            return
        row = model.row_of(self.window.current_photo) if self.window.current_photo is not None else None
        target = 0 if row is None else min(max(row + step, 0), model.rowCount() - 1)
        if target == row:
            self.window.status("This is the last photo of the album." if step > 0
                               else "This is the first photo of the album.")
            return
        index = model.index(target)
        grid.setCurrentIndex(index)  # the current photo follows (select_photo)
        grid.scrollTo(index)

    def _load_photo(self, photo_id: int) -> None:
        path = self.window.library.photos.get(photo_id).path
        self.window.calls.query(lambda: qimage_from_rgb(read_image_rgb8(path)),
                         lambda image: self._photo_loaded(photo_id, image),
                         lambda message: self._photo_unloadable(photo_id, message), key=("photo", photo_id))

    def _photo_loaded(self, photo_id: int, image: QImage) -> None:
        if photo_id == self.window.current_photo:
            self.window.photo_image = image
            self.window.faces_view.set_photo(image, self.window.faces_page.face_marks())
            self.window.compare_tab.show_compare()

    def _photo_unloadable(self, photo_id: int, message: str) -> None:
        if photo_id == self.window.current_photo:
            self.window.photo_unreadable = True
            self.window.faces_view.set_message(message)
            shown_alone = " Its restored version is shown alone in Compare." if self.window.current_version else ""
            self.window.status(message + shown_alone)
            self.window.compare_tab.show_compare()

    def build(self) -> QWidget:
        """The photo grid, or a large area to drop folders on while there are no photos."""
        self.window.thumbnails = ThumbnailModel(self.thumbnail_loader(), self.window.settings.thumbnail_size,
                                               self.window, version_loader=self.version_thumbnail_loader())
        self.window.grid = QListView()
        self.window.grid.setViewMode(QListView.ViewMode.IconMode)
        self.window.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.window.grid.setUniformItemSizes(True)
        self.window.grid.setMovement(QListView.Movement.Static)
        self.window.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.window.grid.setSpacing(6)
        self.window.grid.setWordWrap(False)
        self.window.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.window.grid.setModel(self.window.thumbnails)
        self.apply_grid_size()
        self.window.grid.selectionModel().currentChanged.connect(
            lambda index, _: self.select_photo(index.data(PhotoIdRole)))
        self.window.grid.activated.connect(lambda index: self.open_photo(index.data(PhotoIdRole)))
        self.window.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.window.grid.customContextMenuRequested.connect(
            lambda pos: self.window.popup(self.window.grid_menu(), self.window.grid.viewport(), pos))
        self.window.grid_empty = DropArea(self.window.add_folder)
        photos_page = QWidget()
        photos_layout = QVBoxLayout(photos_page)
        photos_layout.setContentsMargins(0, 0, 0, 0)
        photos_layout.addWidget(self.window.grid_empty, 1)
        photos_layout.addWidget(self.window.grid, 1)
        return photos_page
