"""A drop of files is always a copy: a file manager told "move" may delete the user's originals."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

from ented_desktop.core.library import Library
from ented_desktop.core.settings import Settings
from ented_desktop.gui.album_list import AlbumList
from ented_desktop.gui.main_window import MainWindow
from ented_desktop.gui.people_list import PeopleList, PersonIdRole
from ented_desktop.gui.tasks import Services

from .drag import COPY_OR_MOVE, SHIFT, drag_and_drop
from .fakes import FakeFaceFinder, FakeLoader, fake_prepare_reference, make_photo


@pytest.fixture
def window(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    settings = Settings()
    services = Services(lambda: settings, face_finder=lambda s: FakeFaceFinder(), restorer_loader=FakeLoader(),
                        reference_preparer=fake_prepare_reference)
    window = MainWindow(library, settings, services=services)
    qtbot.addWidget(window)
    yield window
    window.shutdown()
    library.close()


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "shoebox"
    folder.mkdir()
    make_photo(folder / "a.png", 200)
    return folder


def test_a_move_proposed_over_the_window_is_taken_as_a_copy(qtbot, window, folder):
    drop = drag_and_drop(window, [folder], actions=COPY_OR_MOVE, modifiers=SHIFT)
    assert drop.proposed == Qt.DropAction.MoveAction  # what the file manager asked for
    assert drop.accepted
    assert drop.action == Qt.DropAction.CopyAction
    qtbot.waitUntil(lambda: window.library.photos.all() != [], timeout=10000)


def test_a_source_that_can_only_move_is_refused(qtbot, window, folder):
    drop = drag_and_drop(window, [folder], actions=Qt.DropAction.MoveAction)
    assert not drop.accepted
    assert window.queue.entries == {}


def test_a_move_proposed_over_an_album_is_taken_as_a_copy(qtbot, folder):
    got = []
    albums = AlbumList(lambda paths, album: got.append(paths))
    qtbot.addWidget(albums)
    drop = drag_and_drop(albums.viewport(), [folder], actions=COPY_OR_MOVE, modifiers=SHIFT)
    assert drop.action == Qt.DropAction.CopyAction
    assert got == [[folder]]


def test_a_move_proposed_over_a_person_is_taken_as_a_copy(qtbot, folder):
    people = PeopleList()
    qtbot.addWidget(people)
    item = QListWidgetItem("Grandpa")
    item.setData(PersonIdRole, 1)
    people.addItem(item)
    people.resize(200, 200)
    people.show()
    dropped = []
    people.imageDropped.connect(lambda person, path: dropped.append((person, path)))
    point = people.visualItemRect(item).center()
    drop = drag_and_drop(people.viewport(), [folder / "a.png"], point, actions=COPY_OR_MOVE, modifiers=SHIFT)
    assert drop.action == Qt.DropAction.CopyAction
    assert dropped == [(1, folder / "a.png")]
