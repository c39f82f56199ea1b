"""The self-test's window check never waits for ever on a box shown offscreen to nobody."""

import os

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from ented_desktop import selftest
from ented_desktop.gui import app as app_module

PER_USER = ("ENTED_DATA_DIR", "ENTED_MODEL_DIR", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
            "XDG_STATE_HOME", "QT_QPA_PLATFORM")


def test_a_box_the_window_shows_fails_the_check_with_its_words(qapp, tmp_path, monkeypatch):
    for name in PER_USER:  # isolate() moves them: put them back after the test
        monkeypatch.setenv(name, os.environ.get(name, "unset"))
    selftest.isolate(tmp_path / "home")

    def import_then_ask(window, paths):
        QTimer.singleShot(0, lambda: QMessageBox.warning(window, "ENTED Desktop", "Something only a person answers"))

    monkeypatch.setattr(app_module, "open_paths", import_then_ask)
    (tmp_path / "work").mkdir()
    with pytest.raises(selftest.CheckFailed, match="the window asked 'Something only a person answers'"):
        selftest.check_window(tmp_path / "work")
