"""Going through the photos from every tab, the grid at every thumbnail size with the restored versions, the
empty library's drop area, the drag highlight, actions without photos, Help > About and the file dialogs' folders.

The library is filled directly (no import job), so that each test shows only the window's part."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
from PySide6.QtWidgets import QApplication, QLineEdit

from ented_desktop import __version__
from ented_desktop.core.library import Library
from ented_desktop.core.settings import Settings
from ented_desktop.gui import main_window as main_window_module
from ented_desktop.gui.background_calls import Changed
from ented_desktop.gui.drop_area import DropArea
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.tabs import TAB_COMPARE, TAB_FACES, TAB_PHOTOS
from ented_desktop.gui.tasks import Services

from .drag import COPY_OR_MOVE, SHIFT, drag_and_drop
from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference

KEY = Qt.Key


def add_photos(library: Library, folder: Path, sizes: dict[str, tuple[int, int]]) -> list[int]:
    """Photos of the given sizes (width, height) in an album "Family", oldest first in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (name, (width, height)) in enumerate(sizes.items()):
        Image.fromarray(np.full((height, width, 3), 40 + 20 * number, np.uint8)).save(folder / name)
        os.utime(folder / name, (1_000_000 + number, 1_000_000 + number))  # the album's order: by date taken
    album = library.albums.create("Family")
    for _ in library.photos.import_paths(album, [folder]):
        pass
    return [p.id for p in library.photos.all(album)]


def add_version(library: Library, photo_id: int, colour: tuple[int, int, int]) -> int:
    """A restored version of one colour (the look of a real restore does not matter here)."""
    photo = Image.open(library.photos.get(photo_id).path)
    pixels = np.empty((photo.height, photo.width, 3), np.uint8)
    pixels[:] = colour
    return library.versions.add(photo_id, pixels, model="test")


@pytest.fixture
def make_window(qtbot, tmp_path):
    opened: list[tuple[MainWindow, Library]] = []

    def make(library: Library | None = None, settings: Settings | None = None, size: tuple[int, int] | None = None,
             **kwargs) -> MainWindow:
        library = library or Library(tmp_path / "lib")
        settings = settings or Settings()
        services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                            reference_preparer=fake_prepare_reference)
        window = MainWindow(library, settings, services=services, **kwargs)
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        opened.append((window, library))
        return window

    yield make
    for window, library in opened:
        window.shutdown()
        library.close()


def focus(qtbot, widget) -> None:
    widget.window().activateWindow()
    qtbot.waitUntil(widget.window().isActiveWindow, timeout=3000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=3000)


@pytest.mark.parametrize("tab", [TAB_PHOTOS, TAB_FACES, TAB_COMPARE])
def test_arrows_page_keys_and_space_go_through_the_album_from_every_tab(qtbot, tmp_path, make_window, tab):
    library = Library(tmp_path / "lib")
    ids = add_photos(library, tmp_path / "photos", {f"p{i}.png": (90, 60) for i in range(4)})
    window = make_window(library)
    window.tabs.setCurrentIndex(tab)
    page = (window.grid, window.faces_view, window.compare)[tab]
    focus(qtbot, page)
    assert window.current_photo == ids[0]
    for key, expected in ((KEY.Key_Right, 1), (KEY.Key_Space, 2), (KEY.Key_Left, 1), (KEY.Key_PageDown, 2),
                          (KEY.Key_PageDown, 3), (KEY.Key_PageUp, 2), (KEY.Key_PageDown, 3)):
        qtbot.keyClick(page, key)
        assert window.current_photo == ids[expected], QApplication.focusWidget()
    qtbot.keyClick(page, KEY.Key_Space)  # the last photo: it stays, and says so
    assert window.current_photo == ids[3]
    assert "last photo" in window.statusBar().currentMessage()
    assert window.tabs.currentIndex() == tab
    assert [i.row() for i in window.grid.selectionModel().selectedIndexes()] == [3]  # the grid follows


def test_text_fields_and_the_docks_keep_their_keys(qtbot, tmp_path, make_window):
    library = Library(tmp_path / "lib")
    ids = add_photos(library, tmp_path / "photos", {f"p{i}.png": (90, 60) for i in range(3)})
    window = make_window(library)
    window.tabs.setCurrentIndex(TAB_COMPARE)
    field = QLineEdit("ab", window.compare_page)  # a text field on a page, as a search box would be
    field.show()
    focus(qtbot, field)
    field.setCursorPosition(0)
    for key in (KEY.Key_Right, KEY.Key_Space, KEY.Key_Right):
        qtbot.keyClick(field, key)
    assert (field.text(), window.current_photo) == ("a b", ids[0])
    focus(qtbot, window.albums)  # a list in a dock: its own keys
    for key in (KEY.Key_Right, KEY.Key_PageDown, KEY.Key_Space):
        qtbot.keyClick(window.albums, key)
    assert window.current_photo == ids[0]


def test_a_double_click_opens_compare_for_a_restored_photo_and_faces_otherwise(qtbot, tmp_path, make_window):
    library = Library(tmp_path / "lib")
    plain, restored = add_photos(library, tmp_path / "photos", {"plain.png": (90, 60), "restored.png": (90, 60)})
    add_version(library, restored, (200, 40, 40))
    window = make_window(library)
    for photo_id, tab in ((restored, TAB_COMPARE), (plain, TAB_FACES)):
        window.tabs.setCurrentIndex(TAB_PHOTOS)
        rect = window.grid.visualRect(window.thumbnails.index(window.thumbnails.row_of(photo_id)))
        for click in (qtbot.mouseClick, qtbot.mouseDClick):  # what a double-click sends: a click, then another
            click(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert (window.current_photo, window.tabs.currentIndex()) == (photo_id, tab)
        if tab == TAB_COMPARE:
            qtbot.waitUntil(window.compare.has_after, timeout=5000)  # with its newest version


@pytest.mark.parametrize("size", [96, 256, 512])
def test_every_grid_cell_holds_its_whole_thumbnail_and_name(qtbot, tmp_path, make_window, size):
    """A wide photo first used to set the height of every cell once its thumbnail was loaded and the album shown
    again (uniform item sizes): the square photos after it were cut at the mouth and their names were lost."""
    library = Library(tmp_path / "lib")
    ids = add_photos(library, tmp_path / "photos", {"wide.png": (600, 150), "square.png": (300, 300),
                                                    "tall.png": (150, 600), "a very long name of a scanned "
                                                    "photo from the shoebox.png": (300, 300)})
    window = make_window(library, Settings(thumbnail_size=size), size=(1600, 1000))
    model, grid = window.thumbnails, window.grid
    for row in range(model.rowCount()):  # rows below the window's edge too
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.is_loaded(i) for i in ids), timeout=10000)
    window.photos_page.show_album(window.current_album)  # as any change to the library shows it again
    qtbot.waitUntil(lambda: grid.visualRect(model.index(1)).isValid(), timeout=5000)
    text_height = grid.fontMetrics().height()
    for row in range(model.rowCount()):
        # the grid takes every item's size from the first one's: every thumbnail must be on the same square
        icon = model.index(row).data(Qt.ItemDataRole.DecorationRole)
        assert icon.size() == model.thumbnail_size(), row
        rect = grid.visualRect(model.index(row))
        assert rect.height() >= size + text_height, (row, rect)
        assert rect.width() >= size, (row, rect)
        cell = grid.gridSize()
        assert rect.height() <= cell.height() and rect.width() <= cell.width()  # the next row does not cover it


def test_the_thumbnail_shows_the_newest_version_with_a_mark_and_follows_its_versions(qtbot, tmp_path,
                                                                                     make_window):
    library = Library(tmp_path / "lib")
    (photo_id,) = add_photos(library, tmp_path / "photos", {"grandma.png": (128, 128)})
    add_version(library, photo_id, (200, 40, 40))
    window = make_window(library, Settings(thumbnail_size=96))
    model = window.thumbnails

    def centre_and_corner():
        image = model.index(0).data(Qt.ItemDataRole.DecorationRole).toImage()
        return image.pixelColor(48, 60).getRgb()[:3], image.pixelColor(86, 5).getRgb()[:3]  # the mark: 14 px at (79, 3)

    qtbot.waitUntil(lambda: model.is_loaded(photo_id), timeout=5000)
    centre, corner = centre_and_corner()
    assert centre[0] > 150 and centre[1] < 100  # the red version, not the grey original
    assert corner[1] > corner[0] + 40  # the green mark
    newer = add_version(library, photo_id, (40, 40, 200))
    window.photos_page.mark_restored(photo_id, True)  # as a finished restore tells it
    qtbot.waitUntil(lambda: model.is_loaded(photo_id) and centre_and_corner()[0][2] > 150, timeout=5000)
    settled = []
    window.calls.change(lambda: library.versions.delete(newer), Changed.VERSIONS, settled.append)  # from Compare
    qtbot.waitUntil(lambda: bool(settled) and model.is_loaded(photo_id), timeout=5000)
    assert centre_and_corner()[0][0] > 150  # the red one again: the newest left
    for version in library.versions.of_photo(photo_id):
        library.versions.delete(version.id)
    window.photos_page.mark_restored(photo_id, False)  # as deleting the last version tells it
    qtbot.waitUntil(lambda: model.is_loaded(photo_id) and centre_and_corner()[0] == (40, 40, 40), timeout=5000)
    assert not model.items()[0].restored


def test_an_empty_library_shows_a_drop_area_and_nothing_that_needs_a_photo(qtbot, tmp_path, make_window,
                                                                            monkeypatch):
    window = make_window()
    area = window.grid_empty
    assert isinstance(area, DropArea) and area.isVisible() and not window.grid.isVisible()
    assert area.height() > 300 and "Drop folders" in area.title.text()
    asked = []
    monkeypatch.setattr(main_window_module.QFileDialog, "getExistingDirectory",
                        lambda *a: asked.append(a[1]) or "")
    area.add_button.click()
    assert asked == ["Add a folder of photos"]
    needing_photos = [window.act_restore, window.act_restore_album, window.act_export, window.act_find_faces,
                      window.act_toggle, window.act_split, window.act_next_photo, window.act_name_face]
    assert [a.text() for a in needing_photos if a.isEnabled()] == []
    add_photos(window.library, tmp_path / "photos", {"a.png": (90, 60)})
    window.photos_page.show_album(window.current_album)
    assert [a.text() for a in needing_photos if not a.isEnabled()] == []
    assert window.grid.isVisible() and not area.isVisible()


def files_mime(paths: list[Path]) -> QMimeData:
    """Kept by the caller while its events are sent: an event does not own its data."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drag_enter(mime: QMimeData) -> QDragEnterEvent:
    """A file manager's drag offering copy or move, with Shift held (it proposes a move)."""
    return QDragEnterEvent(QPoint(400, 300), COPY_OR_MOVE, mime, Qt.MouseButton.NoButton, SHIFT)


def test_dragging_files_over_the_window_lights_it_up_until_they_leave_or_drop(qtbot, tmp_path, make_window,
                                                                              monkeypatch):
    window = make_window()
    imported = []
    monkeypatch.setattr(window, "import_paths", lambda paths, album: imported.append(paths))
    mime = files_mime([tmp_path])
    enter = drag_enter(mime)
    QApplication.sendEvent(window, enter)
    assert enter.dropAction() == Qt.DropAction.CopyAction  # a file manager told "move" would delete the originals
    assert window.drop_highlight.isVisible() and window.grid_empty.highlighted()
    assert window.drop_highlight.geometry() == window.tabs.rect()
    QApplication.sendEvent(window, QDragLeaveEvent())
    assert not window.drop_highlight.isVisible() and not window.grid_empty.highlighted()
    QApplication.sendEvent(window, drag_enter(mime))
    dropped = drag_and_drop(window, [tmp_path], actions=COPY_OR_MOVE, modifiers=SHIFT)
    assert dropped.action == Qt.DropAction.CopyAction
    assert imported == [[tmp_path]]
    assert not window.drop_highlight.isVisible() and not window.grid_empty.highlighted()


def test_about_says_which_version_this_is(qtbot, make_window, monkeypatch):
    window = make_window()
    shown = []
    monkeypatch.setattr(main_window_module.QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window.act_help.trigger()
    assert len(shown) == 1 and f"ENTED Desktop {__version__}" in shown[0]


def test_file_dialogs_open_where_the_last_one_was_used_also_after_a_restart(qtbot, tmp_path, make_window,
                                                                            monkeypatch):
    view_state = tmp_path / "view_state.json"
    photos = tmp_path / "Pictures"
    (photos / "Family").mkdir(parents=True)
    (photos / "Scans").mkdir()
    opened_at = []
    monkeypatch.setattr(main_window_module.QFileDialog, "getExistingDirectory",
                        lambda parent, title, folder: opened_at.append(folder) or str(photos / "Family"))
    monkeypatch.setattr(main_window_module.QFileDialog, "getOpenFileNames",
                        lambda parent, title, folder, kinds: opened_at.append(folder) or
                        ([str(photos / "Scans" / "a.jpg")], ""))
    window = make_window(view_state_path=view_state)
    monkeypatch.setattr(window, "import_paths", lambda paths, album: None)
    window.add_folder()
    window.add_folder()  # among the chosen folder's neighbours, not inside it
    window.export_folder = str(photos / "Restored")
    window.close()
    again = make_window(Library(tmp_path / "lib2"), view_state_path=view_state)  # what matters is the view state
    monkeypatch.setattr(again, "import_paths", lambda paths, album: None)
    again.add_folder()
    again.add_photos()
    again.add_photos()
    assert opened_at == [str(Path.home()), str(photos), str(photos), str(photos), str(photos / "Scans")]
    assert again.export_folder == str(photos / "Restored")
