"""Screenshots of the window's layout, drawn offscreen: the empty library's drop area, and the grid at 256 px in a
window of a maximised size with real degraded photos, two of them restored by the shipped model (their thumbnails
show the restored version with its mark). ``ENTED_SCREENSHOT_DIR=docs/screenshots`` refreshes the docs' copies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ented_desktop.core.library import Library
from ented_desktop.core.settings import Settings
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.tasks import Services

from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference

ROOT = Path(__file__).resolve().parents[2]
REAL_LQ = ROOT.parent / "shared" / "data" / "real_lq"
SHIPPED_MODELS = ROOT / "models"
MAXIMISED = (1920, 1050)  # a 1920 x 1080 screen less its panel
RESTORED = ("gfpgan_cropped/Adele_crop.png", "restoreformerpp_raw/06.png")


def window_on(library: Library, qtbot, size: tuple[int, int], thumbnail_size: int = 256) -> MainWindow:
    settings = Settings(thumbnail_size=thumbnail_size)
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        reference_preparer=fake_prepare_reference)
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_empty_library_screenshot(qtbot, tmp_path, screenshot_dir):
    library = Library(tmp_path / "lib")
    window = window_on(library, qtbot, (1280, 800))
    try:
        qtbot.waitUntil(lambda: window.grid_empty.isVisible() and window.grid_empty.height() > 400, timeout=5000)
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(screenshot_dir / "13_empty_library.png"))
    finally:
        window.shutdown()
        library.close()


@pytest.mark.slow
@pytest.mark.skipif(not REAL_LQ.is_dir(), reason="../shared/data/real_lq is not here")
@pytest.mark.skipif(not any(SHIPPED_MODELS.glob("*.safetensors")), reason="no model in models/")
def test_the_grid_at_256_px_screenshot(qtbot, tmp_path, screenshot_dir):
    folder = tmp_path / "Family"
    folder.mkdir()
    for source in sorted(REAL_LQ.glob("*/*")):
        if source.parent.name != "restoreformerpp_aligned":  # the aligned crops would be 30 more of the same faces
            shutil.copy2(source, folder / f"{source.parent.name.split('_')[0]}_{source.name}")
    restored = tmp_path / "restored"
    inputs = [folder / f"{Path(r).parent.name.split('_')[0]}_{Path(r).name}" for r in RESTORED]
    subprocess.run([sys.executable, "-m", "ented_desktop.cli.main", "restore", *map(str, inputs), "-o", str(restored),
                    "--model-dir", str(SHIPPED_MODELS)], check=True, capture_output=True, timeout=600)
    library = Library(tmp_path / "lib")
    album = library.albums.create("Family")
    for _ in library.photos.import_paths(album, [folder]):
        pass
    by_name = {p.path.name: p.id for p in library.photos.all(album)}
    for path in inputs:
        pixels = np.asarray(Image.open(restored / path.name).convert("RGB"))
        library.versions.add(by_name[path.name], pixels, model="ented-lfw128")
    window = window_on(library, qtbot, MAXIMISED)
    try:
        window.albums.setCurrentRow(1)  # the album "Family"
        model = window.thumbnails
        shown = [model.photo_id(r) for r in range(model.rowCount())
                 if window.grid.viewport().rect().intersects(window.grid.visualRect(model.index(r)))]
        qtbot.waitUntil(lambda: all(model.is_loaded(i) for i in shown), timeout=20000)
        qtbot.waitUntil(lambda: not window.queue.active(), timeout=60000)  # face detection: done, as shown
        assert sum(model.items()[model.row_of(i)].restored for i in shown) >= 1
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(screenshot_dir / "14_grid_256.png"))
    finally:
        window.shutdown()
        library.close()
