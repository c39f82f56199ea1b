"""Thumbnail model: lazy loading off the main thread, visible rows first, smooth scrolling of 5,000."""

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QListView

from ented_desktop.gui.thumbnail_model import WANTED_LIMIT, PhotoIdRole, PhotoItem, ThumbnailModel

from .stall_meter import StallMeter


class SlowLoader:
    """Stands in for Library.photos.thumbnail_path: makes a small PNG per photo, slowly, counting calls."""

    def __init__(self, folder, delay=0.003):
        self.folder, self.delay, self.calls = folder, delay, []

    def __call__(self, photo_id):
        self.calls.append(photo_id)
        time.sleep(self.delay)
        path = self.folder / f"{photo_id}.png"
        if not path.exists():
            shade = photo_id % 256
            Image.fromarray(np.full((96, 128, 3), shade, np.uint8)).save(path)
        return path


@pytest.fixture
def pool():
    p = QThreadPool()
    yield p
    p.waitForDone(10000)


def make_view(qtbot, model):
    view = QListView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setUniformItemSizes(True)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setIconSize(model.thumbnail_size())
    view.setModel(model)
    view.resize(700, 500)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_only_visible_thumbnails_are_loaded(qtbot, tmp_path, pool):
    loader = SlowLoader(tmp_path)
    model = ThumbnailModel(loader, size=96, pool=pool)
    model.set_photos([PhotoItem(i, f"photo_{i}.jpg") for i in range(5000)])
    view = make_view(qtbot, model)
    qtbot.waitUntil(lambda: model.pending() == 0 and bool(loader.calls), timeout=5000)
    assert model.is_loaded(0)
    assert len(loader.calls) < 200  # a screenful, not the album
    assert model.index(3).data(PhotoIdRole) == 3
    view.close()


def test_rows_scrolled_far_past_are_forgotten(qtbot, tmp_path, pool):
    loader = SlowLoader(tmp_path, delay=0.05)
    model = ThumbnailModel(loader, size=64, pool=pool)
    model.set_photos([PhotoItem(i, f"photo_{i}.jpg") for i in range(2000)])
    for row in range(2000):  # what a very fast scroll through the album asks for
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    assert model.pending() <= WANTED_LIMIT + pool.maxThreadCount()
    qtbot.waitUntil(lambda: model.pending() == 0, timeout=30000)
    assert model.is_loaded(1999)  # the newest request is served
    assert len(loader.calls) < 2000 // 2


def test_restored_photos_show_their_newest_version_with_a_mark(qtbot, tmp_path, pool):
    photos, versions = SlowLoader(tmp_path / "photos"), SlowLoader(tmp_path / "versions")
    for loader in (photos, versions):
        loader.folder.mkdir()
    model = ThumbnailModel(photos, size=64, pool=pool, version_loader=versions)
    model.set_photos([PhotoItem(1, "a.jpg"), PhotoItem(2, "b.jpg")])
    changed = []
    model.dataChanged.connect(lambda first, last, roles=(): changed.append(first.row()))
    model.update_item(PhotoItem(2, "b.jpg", version_id=70))
    assert changed == [1]
    assert [model.index(r).data() for r in range(2)] == ["a.jpg", "b.jpg"]
    assert "Restored" in model.index(1).data(Qt.ItemDataRole.ToolTipRole)
    for row in range(2):
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: model.is_loaded(1) and model.is_loaded(2), timeout=5000)
    assert (photos.calls, versions.calls) == ([1], [70])
    plain, restored = (model.index(r).data(Qt.ItemDataRole.DecorationRole).toImage() for r in range(2))
    assert plain.size() == restored.size() == model.thumbnail_size()  # one square size, whatever the photo
    corner = restored.pixelColor(54, 14)  # in the 14 px disc at (47, 11) on the photo, above its tick
    assert corner.green() > corner.red() + 40  # the green mark, not the photo's grey
    assert plain.pixelColor(56, 3).alpha() == 0  # a 128 x 96 photo leaves 8 empty rows above it in the square


def test_failed_thumbnail_keeps_placeholder_and_is_not_retried(qtbot, tmp_path, pool):
    def broken(photo_id):
        calls.append(photo_id)
        raise OSError("unreadable")

    calls = []
    model = ThumbnailModel(broken, size=64, pool=pool)
    model.set_photos([PhotoItem(1, "a.jpg")])
    assert model.index(0).data(1) is not None  # placeholder pixmap
    qtbot.waitUntil(lambda: model.pending() == 0, timeout=3000)
    model.index(0).data(1)
    qtbot.wait(50)
    assert calls == [1]
    assert not model.is_loaded(1)


def test_newest_requests_load_first(qtbot, tmp_path, pool):
    loader = SlowLoader(tmp_path, delay=0.02)
    model = ThumbnailModel(loader, size=64, pool=pool, max_parallel=1)
    model.set_photos([PhotoItem(i, str(i)) for i in range(10)])
    for row in range(10):
        model.index(row).data(1)  # row 0 starts at once; 1..9 wait
    qtbot.waitUntil(lambda: model.pending() == 0, timeout=5000)
    assert loader.calls[0] == 0
    assert loader.calls[1] == 9  # the last one asked for (still visible) goes next


@pytest.mark.slow
def test_scrolling_5000_photos_never_stalls(qtbot, tmp_path, pool):
    loader = SlowLoader(tmp_path, delay=0.002)
    model = ThumbnailModel(loader, size=128, pool=pool)
    model.set_photos([PhotoItem(i, f"IMG_{i:05d}.jpg") for i in range(5000)])
    view = make_view(qtbot, model)
    meter = StallMeter()
    meter.start()
    bar = view.verticalScrollBar()
    for step in range(0, 61):
        bar.setValue(bar.maximum() * step // 60)
        qtbot.wait(15)
    qtbot.waitUntil(lambda: model.pending() == 0, timeout=10000)
    meter.stop()
    print(f"longest main-thread stall while scrolling 5,000 thumbnails: {meter.longest_ms:.1f} ms")
    assert meter.ticks > 20
    assert meter.longest_ms < 100
    last_row = model.rowCount() - 1
    assert model.is_loaded(model.photo_id(last_row))
