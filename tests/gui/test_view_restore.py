"""Reopening the program shows the window, album, tab and file-dialog folders as they were left."""

from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from ented_desktop.core.library import Library
from ented_desktop.core.settings import Settings
from ented_desktop.gui.album_list import ALL_PHOTOS
from ented_desktop.gui.main_window import MainWindow, on_a_screen
from ented_desktop.gui.tabs import TAB_COMPARE
from ented_desktop.gui.tasks import Services
from ented_desktop.gui.view_state import ViewState, load_view_state, save_view_state

from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference


@pytest.fixture
def open_window(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    windows = []

    def opened() -> MainWindow:
        settings = Settings()
        services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                            reference_preparer=fake_prepare_reference)
        window = MainWindow(library, settings, settings_path=tmp_path / "settings.json",
                            view_state_path=tmp_path / "view_state.json", services=services)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield opened, library
    for window in windows:
        window.shutdown()
    library.close()


def screen() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


def test_geometry_album_and_tab_come_back(qtbot, open_window, tmp_path):
    opened, library = open_window
    library.albums.create("Other")
    family = library.albums.create("Family")
    window = opened()
    window.show()
    area = screen()
    window.setGeometry(QRect(area.x() + 40, area.y() + 30, 1000, 700))
    left = window.geometry()  # as the minimum size and the screen allow
    window.photos_page.show_album(family)
    window.tabs.setCurrentIndex(TAB_COMPARE)
    assert window.close()

    again = opened()
    assert again.current_album == family
    assert again.albums.currentItem().text().startswith("Family")
    assert again.tabs.currentIndex() == TAB_COMPARE
    assert again.geometry() == left
    assert load_view_state(tmp_path / "view_state.json").album_id == family


def test_a_removed_album_and_an_off_screen_window_fall_back_to_the_defaults(qtbot, open_window, tmp_path):
    opened, _ = open_window
    area = screen()
    save_view_state(ViewState(geometry=(area.right() + 5000, area.y(), 800, 600), album_id=999, tab=99),
                    tmp_path / "view_state.json")
    window = opened()
    assert window.current_album == ALL_PHOTOS
    assert window.tabs.currentIndex() == 0
    assert window.geometry().x() < area.right()  # left where Qt puts a new window


def test_on_a_screen_needs_a_grabbable_title_bar():
    screens = [QRect(0, 0, 1920, 1080)]
    assert on_a_screen(QRect(100, 100, 800, 600), screens)
    assert not on_a_screen(QRect(2500, 100, 800, 600), screens)  # on a monitor since removed
    assert not on_a_screen(QRect(100, -500, 800, 600), screens)  # title bar above the screen
    assert on_a_screen(QRect(1900 - 150, 100, 800, 600), screens)

def test_file_dialogs_open_where_they_were_last_and_remember_it_next_run(qtbot, open_window, tmp_path,
                                                                          monkeypatch):
    opened, _ = open_window
    photos, refs = tmp_path / "photos", tmp_path / "refs"
    photos.mkdir()
    refs.mkdir()
    starts: list[str] = []

    def folder_dialog(parent, title, start):
        starts.append(start)
        return ""

    def file_dialog(parent, title, start, filters):
        starts.append(start)
        return str(refs / "gran.jpg"), ""

    window = opened()
    window.folders["import"] = str(photos)  # as after a folder was added
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder_dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", file_dialog)
    monkeypatch.setattr(window.people_panel.references, "set_reference_image", lambda person_id, path: None)
    monkeypatch.setattr(window.people_panel, "current_person_id", lambda: 1)
    window.add_folder()
    window.people_panel.references.choose_reference_file()
    assert starts == [str(photos), str(Path.home())]
    assert window.folders["reference"] == str(refs)
    assert window.close()

    again = opened()
    assert again.folders == {"import": str(photos), "reference": str(refs), "export": again.export_folder}
