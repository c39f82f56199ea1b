"""Starting the application: a library already open elsewhere is refused with a message, not a window;
settings problems are all shown; unexpected errors are reported to the log in the user data folder."""

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
    monkeypatch.setenv("ENTED_DATA_DIR", str(tmp_path / "data"))
    shown = []
    monkeypatch.setattr(app_module.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(app_module, "MainWindow", lambda *a, **k: pytest.fail("no window on a library in use"))
    with Library(default_library_dir()) as first:
        job = first.add_job("restore", {"photo_ids": [1]})
        first.set_job_state(job, "running")
        assert app_module.main(["ented-desktop"]) == 2
        assert first.job(job).state == "running"
    assert len(shown) == 1 and "is already open in another ENTED Desktop window" in shown[0]


class FakeWindow:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def show(self) -> None:
        pass


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
