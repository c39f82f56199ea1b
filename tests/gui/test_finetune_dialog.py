"""Fine-tune dialog with a fake fine-tuner: progress and plot, results table, keep/discard, cancel."""

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from ented_desktop.core.errors import ModelError
from ented_desktop.gui.finetune_dialog import FinetuneCandidate, FinetuneDialog, format_eta


@dataclass
class FakeResult:
    before: dict
    after: dict
    improved: bool
    model_path: Path | None
    history: list = field(default_factory=list)


def fake_finetune(photos, *, base_model, out_dir, minutes, progress_fn, abort_fn, steps=20, delay=0.0):
    for i in range(1, steps + 1):
        if abort_fn():
            return FakeResult({}, {}, False, None)
        threading.Event().wait(delay)
        progress_fn({"iteration": i, "total": steps, "eta_s": (steps - i) * 2.0, "loss": 1.0 / i,
                     "val": 0.5 / i if i % 5 == 0 else None})
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / "personal.safetensors"
    model.write_bytes(b"weights")
    return FakeResult({"val_l1": 0.21}, {"val_l1": 0.15}, True, model)


CANDIDATES = [
    FinetuneCandidate(1, "Grandma", (Path("a.jpg"), Path("b.jpg"))),
    FinetuneCandidate(2, "Uncle Tom", (Path("a.jpg"), Path("b.jpg"), Path("c.jpg"), Path("d.jpg"))),
]


@pytest.fixture
def pool():
    p = QThreadPool()
    yield p
    p.waitForDone(5000)


def make(qtbot, tmp_path, pool, fn, kept, discarded):
    dialog = FinetuneDialog(
        CANDIDATES, base_model=lambda: tmp_path / "base.safetensors",
        out_dir_for=lambda pid: tmp_path / f"p{pid}",
        on_keep=lambda pid, r: kept.append((pid, r)), on_discard=lambda pid, r: discarded.append((pid, r)),
        finetune_fn=fn, pool=pool)
    qtbot.addWidget(dialog)
    return dialog


def test_only_people_with_three_photos_can_be_chosen(qtbot, tmp_path, pool):
    dialog = make(qtbot, tmp_path, pool, fake_finetune, [], [])
    assert dialog.person.currentData() == 2
    assert not dialog.person.model().item(0).isEnabled()
    assert "needs at least 3" in dialog.person.itemText(0)


def test_run_plots_progress_and_keep_registers_the_model(qtbot, tmp_path, pool):
    kept, discarded = [], []
    dialog = make(qtbot, tmp_path, pool, fake_finetune, kept, discarded)
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    assert dialog.phase == "finished"
    assert len(dialog.plot.loss) == 20 and [i for i, _ in dialog.plot.val] == [5, 10, 15, 20]
    assert dialog.progress.value() == dialog.progress.maximum()
    assert [dialog.results.item(0, c).text() for c in range(3)] == ["val_l1", "0.21", "0.15"]
    assert "scores better" in dialog.status.text()
    dialog.keep()
    assert kept and kept[0][0] == 2 and kept[0][1].model_path == tmp_path / "p2" / "personal.safetensors"
    assert discarded == []


def test_closing_after_a_run_discards_instead_of_leaking(qtbot, tmp_path, pool):
    kept, discarded = [], []
    dialog = make(qtbot, tmp_path, pool, fake_finetune, kept, discarded)
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    dialog.reject()
    assert kept == [] and [pid for pid, _ in discarded] == [2]


def test_cancel_stops_the_run_and_keeps_nothing(qtbot, tmp_path, pool):
    kept, discarded = [], []

    def slow(*args, **kwargs):
        return fake_finetune(*args, steps=500, delay=0.01, **kwargs)

    dialog = make(qtbot, tmp_path, pool, slow, kept, discarded)
    dialog.start()
    qtbot.waitUntil(lambda: len(dialog.plot.loss) >= 2, timeout=5000)
    assert dialog.phase == "running"
    dialog.cancel()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=5000)
    assert "cancelled" in dialog.status.text()
    assert kept == [] and discarded == []
    assert len(dialog.plot.loss) < 500


def test_missing_base_model_message_is_shown(qtbot, tmp_path, pool):
    def no_model(*args, **kwargs):
        raise ModelError("No trained ENTED model is installed; put one in the model folder.")

    dialog = make(qtbot, tmp_path, pool, no_model, [], [])
    dialog.start()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=5000)
    expected = "Fine-tuning failed: No trained ENTED model is installed; put one in the model folder."
    assert dialog.status.text() == expected


def test_eta_formatting():
    assert format_eta(None) == "estimating…"
    assert format_eta(42) == "42 s left"
    assert format_eta(125) == "2 min 05 s left"
    assert format_eta(3 * 3600 + 60) == "3 h 01 min left"
