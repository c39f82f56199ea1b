"""Starting the application: a library already open elsewhere is refused with a message, not a window (unless
that window takes the paths); settings problems are all shown; unexpected errors are reported to the log in the
user data folder; folders and photos given on the command line are imported into albums named after their folders."""

import json
from types import SimpleNamespace

import pytest

from ented_desktop.core.library import Library, default_library_dir
from ented_desktop.core.settings import SETTINGS_VERSION
from ented_desktop.gui import app as app_module


@pytest.fixture(autouse=True)
def error_hooks(monkeypatch):
    """Log paths given to the error hook (tested on its own; not installed here, it is process-wide)."""
    installed = []
    monkeypatch.setattr(app_module, "install_error_hook", installed.append)
    return installed


def test_a_second_window_on_an_open_library_says_so_and_exits(qtbot, tmp_path, monkeypatch):
    """Open in a program that takes no paths (the command line, or a window that does not answer)."""
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    forwarded = []
    monkeypatch.setattr(app_module, "forward_paths", lambda library_dir, paths: forwarded.append(paths) or False)
    shown = []
    monkeypatch.setattr(app_module.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(app_module, "MainWindow", lambda *a, **k: pytest.fail("no window on a library in use"))
    with Library(default_library_dir()) as first:
        job = first.jobs.add("restore", {"photo_ids": [1]})
        first.jobs.set_state(job, "running")
        assert app_module.main(["ented-desktop", "photo.jpg"]) == 2
        assert first.jobs.get(job).state == "running"
    assert forwarded == [[tmp_path / "photo.jpg"]]
    assert len(shown) == 1 and "is already open in another ENTED Desktop window" in shown[0]


def test_a_second_program_whose_paths_are_taken_exits_0_without_a_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(app_module, "forward_paths", lambda library_dir, paths: True)
    monkeypatch.setattr(app_module.QMessageBox, "critical", lambda *a: pytest.fail("no message: the paths went"))
    monkeypatch.setattr(app_module, "MainWindow", lambda *a, **k: pytest.fail("no second window"))
    with Library(default_library_dir()):
        assert app_module.main(["ented-desktop", str(tmp_path)]) == 0


class FakeWindow:
    """Records what the application asks of the window: its one import entry point."""

    def __init__(self, library, *args, **kwargs) -> None:
        self.library = library
        self.imports = []

    def show(self) -> None:
        pass

    def import_paths(self, paths, album_id) -> None:
        self.imports.append((self.library.albums.get(album_id).name, paths))


def test_every_settings_warning_is_shown_at_start(qtbot, tmp_path, monkeypatch, error_hooks):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("ENTED_DATA_DIR", str(data))
    (data / "settings.json").write_text(json.dumps({"version": SETTINGS_VERSION, "device": "tpu", "jpeg_quality": 0}))
    shown = []
    monkeypatch.setattr(app_module.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(app_module, "create_application", lambda argv: SimpleNamespace(exec=lambda: 0))
    monkeypatch.setattr(app_module, "MainWindow", FakeWindow)
    assert app_module.main(["ented-desktop"]) == 0
    assert error_hooks == [data / "logs" / "ented-desktop.log"]
    assert len(shown) == 1
    assert "setting device='tpu' is not valid" in shown[0] and "setting jpeg_quality=0 is not valid" in shown[0]


def tree(root, files):
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_each_folder_and_the_folder_of_loose_photos_name_an_album(tmp_path):
    tree(tmp_path, ["Holiday/a.jpg", "Wedding 1962/b.jpg", "Wedding 1962/c.png", "Loose/d.jpg"])
    given = [tmp_path / "Holiday", tmp_path / "Wedding 1962/b.jpg", tmp_path / "Loose/d.jpg",
             tmp_path / "Wedding 1962/c.png", tmp_path / "Holiday", tmp_path / "Wedding 1962"]
    assert app_module.album_groups(given) == [
        ("Holiday", [tmp_path / "Holiday"]),
        ("Wedding 1962", [tmp_path / "Wedding 1962/b.jpg", tmp_path / "Wedding 1962/c.png"]),
        ("Loose", [tmp_path / "Loose/d.jpg"]),
        ("Wedding 1962", [tmp_path / "Wedding 1962"]),  # the folder itself: an album of its own
    ]


def test_paths_on_the_command_line_are_imported_into_albums_named_after_their_folders(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path / "data"))
    photos = tree(tmp_path / "photos", ["Holiday/a.jpg", "Scans/b.jpg"])
    windows = []
    monkeypatch.setattr(app_module, "create_application", lambda argv: SimpleNamespace(exec=lambda: 0))
    monkeypatch.setattr(app_module, "MainWindow", lambda *a, **k: windows.append(FakeWindow(*a, **k)) or windows[-1])
    warnings = []
    monkeypatch.setattr(app_module.QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    with Library(default_library_dir()) as library:
        library.albums.create("Holiday")  # taken: the new album gets the next free name
    monkeypatch.chdir(photos)
    assert app_module.main(["ented-desktop", "Holiday", "Scans/b.jpg", "gone.jpg"]) == 0
    assert windows[0].imports == [("Holiday (2)", [photos / "Holiday"]), ("Scans", [photos / "Scans/b.jpg"])]
    assert warnings == [f"These were not found, so they were not imported:\n\n• {photos / 'gone.jpg'}"]


def test_paths_cannot_go_with_the_selftest(capsys):
    with pytest.raises(SystemExit) as exit_info:
        app_module.main(["ented-desktop", "--selftest", "photo.jpg"])
    assert exit_info.value.code == 2 and "paths cannot be given" in capsys.readouterr().err
