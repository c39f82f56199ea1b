"""A list model of photos whose thumbnails load lazily, newest request first, on a thread pool.

Only rows the view actually paints ask for their thumbnail, so a 5,000-photo album costs nothing until
scrolled to. When the user scrolls quickly, the most recently requested (visible) thumbnails are
loaded first; requests for rows scrolled past wait at the back and, beyond the newest
:data:`WANTED_LIMIT`, are forgotten (the view asks again if it paints them again). Results for a
replaced album are dropped by a generation counter.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPixmap

from ented_desktop.gui.workers import lower_thread_priority

log = logging.getLogger(__name__)

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
CACHE_LIMIT = 3000  # decoded thumbnails kept (256 px RGB: ~0.2 MB each)
WANTED_LIMIT = 300  # queued requests kept: several screens of a maximised window at the smallest size

ThumbnailLoader = Callable[[int], Path]  # photo id -> thumbnail file (the core makes it on first use)


@dataclass(frozen=True)
class PhotoItem:
    photo_id: int
    name: str
    restored: bool = False


class _LoadSignals(QObject):
    loaded = Signal(int, int, QImage)  # generation, photo id, image (null when it could not be made)


class _LoadThumbnail(QRunnable):
    def __init__(self, generation: int, photo_id: int, loader: ThumbnailLoader, size: int,
                 signals: _LoadSignals) -> None:
        super().__init__()
        self.generation, self.photo_id, self.loader, self.size, self.signals = (
            generation, photo_id, loader, size, signals)

    def run(self) -> None:
        lower_thread_priority()
        image = QImage()
        try:
            reader = QImageReader(str(self.loader(self.photo_id)))
            reader.setAutoTransform(True)
            source = reader.size()
            if source.isValid() and max(source.width(), source.height()) > self.size:
                reader.setScaledSize(source.scaled(self.size, self.size, Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
        except Exception:  # one bad thumbnail must not stop the others; the placeholder stays
            log.warning("thumbnail for photo %s could not be made", self.photo_id, exc_info=True)
        self.signals.loaded.emit(self.generation, self.photo_id, image)


class ThumbnailModel(QAbstractListModel):
    thumbnailReady = Signal(int)

    def __init__(self, loader: ThumbnailLoader, size: int = 160, parent: QObject | None = None,
                 pool: QThreadPool | None = None, max_parallel: int = 2) -> None:
        super().__init__(parent)
        self._loader = loader
        self._size = size
        self._items: list[PhotoItem] = []
        self._rows: dict[int, int] = {}
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._failed: set[int] = set()
        self._wanted: OrderedDict[int, None] = OrderedDict()  # newest request last
        self._running: set[int] = set()
        self._generation = 0
        self._max_parallel = max_parallel
        self._pool = pool or QThreadPool(self)
        self._signals = _LoadSignals()
        self._signals.loaded.connect(self._on_loaded)
        self._placeholder = self._make_placeholder()

    # -- content ---------------------------------------------------------------------------------
    def set_photos(self, items: list[PhotoItem]) -> None:
        self.beginResetModel()
        self._generation += 1
        self._items = list(items)
        self._rows = {item.photo_id: row for row, item in enumerate(self._items)}
        self._wanted.clear()
        self._running.clear()
        self.endResetModel()

    def set_loader(self, loader: ThumbnailLoader, size: int) -> None:
        """A new thumbnail source or size (settings changed): everything is loaded again."""
        self._loader, self._size = loader, size
        self._cache.clear()
        self._failed.clear()
        self._placeholder = self._make_placeholder()
        self.set_photos(self._items)

    def update_item(self, item: PhotoItem) -> None:
        row = self._rows.get(item.photo_id)
        if row is not None:
            self._items[row] = item
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def remove_photos(self, photo_ids: Collection[int]) -> None:
        """Take these photos' rows out without a reset, so the view keeps its scroll position and selection."""
        rows = sorted(self._rows[i] for i in set(photo_ids) if i in self._rows)
        while rows:  # contiguous runs, the last first: the rows before a run keep their numbers
            last = first = rows.pop()
            while rows and rows[-1] == first - 1:
                first = rows.pop()
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._items[first : last + 1]
            self.endRemoveRows()
        self._rows = {item.photo_id: row for row, item in enumerate(self._items)}
        self.forget(photo_ids)

    def forget(self, photo_ids: Collection[int]) -> None:
        """Drop these photos' thumbnails, loaded or on their way: the library gives a deleted photo's id to the
        next photo imported, whose picture this would otherwise be."""
        gone = set(photo_ids)
        for photo_id in gone:
            self._cache.pop(photo_id, None)
            self._failed.discard(photo_id)
            self._wanted.pop(photo_id, None)
        if self._running & gone:
            self._generation += 1  # drops every load on its way; the others are asked for again
            again = self._running - gone
            self._running.clear()
            for photo_id in again:
                self._request(photo_id)

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def photo_id(self, row: int) -> int:
        return self._items[row].photo_id

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def thumbnail_size(self) -> QSize:
        return QSize(self._size, self._size)

    def is_loaded(self, photo_id: int) -> bool:
        return photo_id in self._cache

    def pending(self) -> int:
        return len(self._wanted) + len(self._running)

    # -- Qt model ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"✓ {item.name}" if item.restored else item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.name + ("\nRestored" if item.restored else "")
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._cache.get(item.photo_id)
            if pixmap is not None:
                self._cache.move_to_end(item.photo_id)
                return pixmap
            if item.photo_id not in self._failed:
                self._request(item.photo_id)
            return self._placeholder
        if role == PhotoIdRole:
            return item.photo_id
        return None

    # -- loading ----------------------------------------------------------------------------------
    def _request(self, photo_id: int) -> None:
        if photo_id in self._running:
            return
        self._wanted[photo_id] = None
        self._wanted.move_to_end(photo_id)
        while len(self._wanted) > WANTED_LIMIT:
            self._wanted.popitem(last=False)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._wanted and len(self._running) < self._max_parallel:
            photo_id, _ = self._wanted.popitem(last=True)
            self._running.add(photo_id)
            task = _LoadThumbnail(self._generation, photo_id, self._loader, self._size, self._signals)
            self._pool.start(task)

    def _on_loaded(self, generation: int, photo_id: int, image: QImage) -> None:
        if generation != self._generation:
            return
        self._running.discard(photo_id)
        if image.isNull():
            self._failed.add(photo_id)
        else:
            self._cache[photo_id] = QPixmap.fromImage(image)
            while len(self._cache) > CACHE_LIMIT:
                self._cache.popitem(last=False)
        row = self._rows.get(photo_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
            self.thumbnailReady.emit(photo_id)
        self._dispatch()

    def _make_placeholder(self) -> QPixmap:
        pixmap = QPixmap(self._size, self._size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setPen(QColor(190, 190, 190))
        painter.setBrush(QColor(235, 235, 235))
        inset = self._size // 8
        painter.drawRoundedRect(inset, inset, self._size - 2 * inset, self._size - 2 * inset, 6, 6)
        painter.end()
        return pixmap
