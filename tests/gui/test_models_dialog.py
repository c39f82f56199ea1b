"""The Models dialog: the same columns as `ented models list`, download with progress, cancel and the licence
question, a refused download, import refusals, verify and remove; work runs off the GUI thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QThreadPool

from ented_desktop.core.models.catalogue import catalogue_entry
from ented_desktop.gui.models_dialog import COLUMNS, ModelsDialog
from tests.test_models_download import FileServer
from tests.test_models_store import write_thirdparty


@pytest.fixture
def pool():
    p = QThreadPool()
    yield p
    p.waitForDone(10000)


@pytest.fixture
def server():
    srv = FileServer()
    srv.thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _dialog(qtbot, pool, tmp_path, **kwargs) -> ModelsDialog:
    dialog = ModelsDialog(model_dir=tmp_path, pool=pool, **kwargs)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    return dialog


def _cells(dialog: ModelsDialog, name: str) -> list[str]:
    for i in range(dialog.table.rowCount()):
        if dialog.table.item(i, 0).text() == name:
            return [dialog.table.item(i, j).text() for j in range(dialog.table.columnCount())]
    raise KeyError(name)


def test_lists_installed_and_catalogued_models(qtbot, pool, tmp_path, screenshot_dir):
    write_thirdparty(tmp_path, "face-x")
    dialog = _dialog(qtbot, pool, tmp_path)
    headers = [dialog.table.horizontalHeaderItem(j).text() for j in range(dialog.table.columnCount())]
    assert headers == COLUMNS
    assert _cells(dialog, "face-x") == ["face-x", "gfpgan", "512 px", _cells(dialog, "face-x")[3], "Apache-2.0",
                                        "verified", str(tmp_path)]
    assert _cells(dialog, "ented-lfw128")[5] == "verified" and "(shipped)" in _cells(dialog, "ented-lfw128")[6]
    assert _cells(dialog, "codeformer")[5:] == ["—", "not installed"]
    dialog.select("ented-lfw128")
    assert not dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.select("gfpgan-1.4")
    assert dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.select("face-x")
    assert dialog.remove_button.isEnabled()
    dialog.show()
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(screenshot_dir / "models_dialog.png"))


def test_codeformer_asks_for_its_licence_first(qtbot, pool, tmp_path, server):
    asked = []
    dialog = _dialog(qtbot, pool, tmp_path, url_base=server.base,
                     licence_question=lambda parent, entry: asked.append(entry.name) or False)
    dialog.select("codeformer")
    dialog.download_button.click()
    assert asked == ["codeformer"] and not dialog.busy()
    assert "licence was not accepted" in dialog.status.text()
    assert server.requests == []


def test_download_shows_progress_and_can_be_cancelled(qtbot, pool, tmp_path, server):
    entry = catalogue_entry("realesrgan-x2plus")
    server.files[entry.file_name] = bytes(entry.size_bytes)
    server.chunk, server.pace = 1 << 14, threading.Event()  # about 8 s for the whole file: time to cancel
    dialog = _dialog(qtbot, pool, tmp_path, url_base=server.base)
    dialog.select(entry.name)
    dialog.download_button.click()
    assert dialog.busy() and not dialog.cancel_button.isHidden() and not dialog.verify_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10000)
    assert "MB of 67.1 MB" in dialog.status.text() and "left" in dialog.status.text()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    assert dialog.status.text() == "Cancelled; nothing was kept."
    assert not any(p.name.endswith((".part", ".pth")) for p in Path(tmp_path).iterdir())


def test_a_download_that_is_not_the_catalogued_file_is_refused(qtbot, pool, tmp_path, server):
    entry = catalogue_entry("realesrgan-x2plus")
    server.files[entry.file_name] = bytes(entry.size_bytes)
    dialog = _dialog(qtbot, pool, tmp_path, url_base=server.base)
    dialog.select(entry.name)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    assert "not the expected file" in dialog.status.text() and "deleted" in dialog.status.text()
    assert not any(Path(tmp_path).iterdir())
    assert _cells(dialog, entry.name)[6] == "not installed"


def test_import_refuses_a_file_that_would_run_code(qtbot, pool, tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"x": Payload()}, evil)
    dialog = _dialog(qtbot, pool, tmp_path / "models", file_chooser=lambda parent: evil)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    assert "would run Python code" in dialog.status.text() and not (tmp_path / "ran").exists()


def test_verify_and_remove(qtbot, pool, tmp_path):
    path = write_thirdparty(tmp_path, "face-x")
    changed = []
    dialog = _dialog(qtbot, pool, tmp_path, removal_question=lambda parent, model: True)
    dialog.modelsChanged.connect(lambda: changed.append(True))
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    dialog.verify_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    assert "1 model failed the check" in dialog.status.text() and _cells(dialog, "face-x")[5] == "damaged"
    dialog.select("face-x")
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=10000)
    assert dialog.status.text() == "Removed face-x." and changed == [True] and not path.exists()
    with pytest.raises(KeyError):
        _cells(dialog, "face-x")


@pytest.mark.slow  # a 67 MB random-weight Real-ESRGAN file in its upstream layout, downloaded and imported
def test_download_installs_the_model(qtbot, pool, tmp_path, server, monkeypatch):
    """The catalogue's checksums are the released file's, so the entry is given the random file's here."""
    import dataclasses
    import hashlib

    from ented_desktop.core.models import install
    from tests.upstream_files import write_upstream_file

    data = write_upstream_file("realesrgan", tmp_path / "RealESRGAN_x2plus.pth").read_bytes()
    entry = dataclasses.replace(catalogue_entry("realesrgan-x2plus"), size_bytes=len(data),
                                sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(install, "catalogue_entry", lambda name: entry)
    server.files[entry.file_name] = data
    dialog = _dialog(qtbot, pool, tmp_path / "models", url_base=server.base)
    changed = []
    dialog.modelsChanged.connect(lambda: changed.append(True))
    dialog.select(entry.name)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: not dialog.busy() and "Installed" in dialog.status.text(), timeout=120000)
    assert dialog.status.text() == "Installed realesrgan-x2plus (realesrgan); it cleans and enlarges backgrounds."
    cells = _cells(dialog, entry.name)
    assert cells[1:3] == ["realesrgan", "enlarges 2x"] and cells[5:] == ["verified", str(tmp_path / "models")]
    assert changed == [True]


def test_a_dialog_closed_while_it_lists_the_models_is_left_alone(qtbot, pool, tmp_path):
    """Closed (and deleted) before its listing ended: the listing's result must not reach the deleted widgets."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtWidgets import QApplication

    dialog = ModelsDialog(model_dir=tmp_path, pool=pool)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    assert dialog.busy()
    with qtbot.waitSignal(dialog.destroyed, timeout=5000):
        dialog.close()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    pool.waitForDone(10000)
    QApplication.processEvents()  # the worker's queued signals are delivered (to nobody)
