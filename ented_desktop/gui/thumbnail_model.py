"""A list model of photos whose thumbnails load lazily, newest request first, on a thread pool.

Only rows the view actually paints ask for their thumbnail, so a 5,000-photo album costs nothing until
scrolled to. When the user scrolls quickly, the most recently requested (visible) thumbnails are
loaded first; requests for rows scrolled past wait at the back and, beyond the newest
:data:`WANTED_LIMIT`, are forgotten (the view asks again if it paints them again). Results for a
replaced album are dropped (:meth:`BackgroundCalls.forget`).

A restored photo shows its newest restored version, with a mark in the corner. Every thumbnail is drawn on a
square of the thumbnail size, so that all items have one size whatever the photos' shapes (the view lays them
out with uniform item sizes: one wide first photo must not cut the square ones below it).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPainterPath, QPen, QPixmap

from ented_desktop.gui.background_calls import BackgroundCalls

log = logging.getLogger(__name__)

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
CACHE_LIMIT = 3000  # decoded thumbnails kept (256 px RGB: ~0.2 MB each)
WANTED_LIMIT = 300  # queued requests kept: several screens of a maximised window at the smallest size

ThumbnailLoader = Callable[[int], Path]  # photo or version id -> thumbnail file (the core makes it on first use)
ThumbnailKey = tuple[int, int | None]  # (photo id, id of the version shown or None for the original)


@dataclass(frozen=True)
class PhotoItem:
    photo_id: int
    name: str
    version_id: int | None = None  # the newest restored version, shown instead of the original

    @property
    def restored(self) -> bool:
        return self.version_id is not None

    @property
    def key(self) -> ThumbnailKey:
        return self.photo_id, self.version_id


def load_thumbnail(loader: ThumbnailLoader, item_id: int, size: int, restored: bool = False) -> QImage:
    """The thumbnail of photo or version ``item_id`` on its ``size`` square (:func:`square_thumbnail`); a null
    image when it cannot be made (one bad thumbnail must not stop the others: the placeholder stays). Runs on a
    worker thread: all the drawing is done here, the main thread only makes it a pixmap."""
    try:
        reader = QImageReader(str(loader(item_id)))
        reader.setAutoTransform(True)
        source = reader.size()
        if source.isValid() and max(source.width(), source.height()) > size:
            reader.setScaledSize(source.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        return image if image.isNull() else square_thumbnail(image, size, restored)
    except Exception:
        log.warning("thumbnail %s could not be made", item_id, exc_info=True)
        return QImage()


def restored_mark(painter: QPainter, picture: QRectF) -> None:
    """The restored mark: a green disc with a white tick in the top right corner of ``picture``."""
    diameter = max(14.0, max(picture.width(), picture.height()) / 7)
    disc = QRectF(picture.right() - diameter - 3, picture.top() + 3, diameter, diameter)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(255, 255, 255), 1.5))
    painter.setBrush(QColor(46, 139, 87))
    painter.drawEllipse(disc)
    tick = QPainterPath(QPointF(disc.left() + 0.27 * diameter, disc.top() + 0.52 * diameter))
    tick.lineTo(disc.left() + 0.43 * diameter, disc.top() + 0.68 * diameter)
    tick.lineTo(disc.left() + 0.74 * diameter, disc.top() + 0.34 * diameter)
    painter.setPen(QPen(QColor(255, 255, 255), max(1.5, diameter / 9)))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(tick)


def square_thumbnail(image: QImage, size: int, restored: bool) -> QImage:
    """``image`` centred on a transparent ``size`` square, with the restored mark when ``restored``."""
    square = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    left, top = (size - image.width()) // 2, (size - image.height()) // 2
    painter.drawImage(left, top, image)
    if restored:
        restored_mark(painter, QRectF(left, top, image.width(), image.height()))
    painter.end()
    return square


class ThumbnailModel(QAbstractListModel):
    thumbnailReady = Signal(int)

    def __init__(self, loader: ThumbnailLoader, size: int = 160, parent: QObject | None = None,
                 pool: QThreadPool | None = None, max_parallel: int = 2,
                 version_loader: ThumbnailLoader | None = None) -> None:
        """``loader``: a photo's thumbnail file; ``version_loader``: a restored version's (None: restored photos
        show their original)."""
        super().__init__(parent)
        self._loader = loader
        self._version_loader = version_loader
        self._size = size
        self._items: list[PhotoItem] = []
        self._rows: dict[int, int] = {}
        self._cache: OrderedDict[ThumbnailKey, QPixmap] = OrderedDict()
        self._failed: set[ThumbnailKey] = set()
        self._wanted: OrderedDict[ThumbnailKey, None] = OrderedDict()  # newest request last
        self._running: set[ThumbnailKey] = set()
        self._max_parallel = max_parallel
        self._calls = BackgroundCalls(self, max_parallel, pool)
        self._placeholders = self._make_placeholders()

    # -- content ---------------------------------------------------------------------------------
    def set_photos(self, items: list[PhotoItem]) -> None:
        self.beginResetModel()
        self._calls.forget()
        self._items = list(items)
        self._rows = {item.photo_id: row for row, item in enumerate(self._items)}
        self._wanted.clear()
        self._running.clear()
        self.endResetModel()

    def set_loader(self, loader: ThumbnailLoader, size: int, version_loader: ThumbnailLoader | None = None) -> None:
        """A new thumbnail source or size (settings changed): everything is loaded again."""
        self._loader, self._version_loader, self._size = loader, version_loader, size
        self._cache.clear()
        self._failed.clear()
        self._placeholders = self._make_placeholders()
        self.set_photos(self._items)

    def update_item(self, item: PhotoItem) -> None:
        """Another name or version of a photo shown (its thumbnail is loaded again when the version changed)."""
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
        for keys in (self._cache, self._wanted):
            for key in [k for k in keys if k[0] in gone]:
                del keys[key]
        self._failed = {k for k in self._failed if k[0] not in gone}
        if any(k[0] in gone for k in self._running):
            self._calls.forget()  # drops every load on its way; the others are asked for again
            again = [k for k in self._running if k[0] not in gone]
            self._running.clear()
            for key in again:
                self._request(key)

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def photo_id(self, row: int) -> int:
        return self._items[row].photo_id

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def thumbnail_size(self) -> QSize:
        return QSize(self._size, self._size)

    def is_loaded(self, photo_id: int) -> bool:
        """Whether the thumbnail the photo's row shows (its newest version's, when restored) is loaded."""
        row = self._rows.get(photo_id)
        return row is not None and self._items[row].key in self._cache

    def pending(self) -> int:
        return len(self._wanted) + len(self._running)

    def shutdown(self) -> None:
        """Load nothing more and wait for the loads running (the library is about to close)."""
        self._wanted.clear()
        self._calls.shutdown()

    # -- Qt model ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.name + ("\nRestored: the newest restored version is shown" if item.restored else "")
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._cache.get(item.key)
            if pixmap is not None:
                self._cache.move_to_end(item.key)
                return pixmap
            if item.key not in self._failed:
                self._request(item.key)
            return self._placeholders[item.restored]
        if role == PhotoIdRole:
            return item.photo_id
        return None

    # -- loading ----------------------------------------------------------------------------------
    def _request(self, key: ThumbnailKey) -> None:
        if key in self._running:
            return
        self._wanted[key] = None
        self._wanted.move_to_end(key)
        while len(self._wanted) > WANTED_LIMIT:
            self._wanted.popitem(last=False)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._wanted and len(self._running) < self._max_parallel:
            key, _ = self._wanted.popitem(last=True)
            self._running.add(key)
            photo_id, version_id = key
            if version_id is not None and self._version_loader is not None:
                load = partial(load_thumbnail, self._version_loader, version_id, self._size, True)
            else:
                load = partial(load_thumbnail, self._loader, photo_id, self._size, version_id is not None)
            self._calls.query(load, partial(self._on_loaded, key))

    def _on_loaded(self, key: ThumbnailKey, image: QImage) -> None:
        self._running.discard(key)
        if image.isNull():
            self._failed.add(key)
        else:
            self._cache[key] = QPixmap.fromImage(image)
            while len(self._cache) > CACHE_LIMIT:
                self._cache.popitem(last=False)
        photo_id = key[0]
        row = self._rows.get(photo_id)
        if row is not None and self._items[row].key == key:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
            self.thumbnailReady.emit(photo_id)
        self._dispatch()

    def _make_placeholders(self) -> tuple[QPixmap, QPixmap]:
        """The placeholder of an original and of a restored photo (with the mark)."""
        placeholders = []
        for restored in (False, True):
            pixmap = QPixmap(self._size, self._size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setPen(QColor(190, 190, 190))
            painter.setBrush(QColor(235, 235, 235))
            inset = self._size // 8
            frame = QRectF(inset, inset, self._size - 2 * inset, self._size - 2 * inset)
            painter.drawRoundedRect(frame, 6, 6)
            if restored:
                restored_mark(painter, frame)
            painter.end()
            placeholders.append(pixmap)
        return placeholders[0], placeholders[1]
