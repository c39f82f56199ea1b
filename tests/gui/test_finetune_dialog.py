"""Fine-tune dialog driving a "finetune" job of a real job queue with a fake fine-tuner: progress and plot,
the job recorded in the library, results table, keep/discard, cancel, failure, waiting behind a restore."""

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ented_desktop.core.errors import ModelError
from ented_desktop.core.library import Library
from ented_desktop.gui.finetune_dialog import FinetuneCandidate, FinetuneDialog
from ented_desktop.gui.job_queue import JobQueue, Step
from ented_desktop.gui.tasks import FinetuneProgress, Outcome
from ented_desktop.gui.wording import format_eta
from ented_desktop.gui.workers import WorkCancelled


@dataclass
class FakeResult:
    before: dict
    after: dict
    improved: bool
    model_path: Path | None
    history: list = field(default_factory=list)


def fake_finetune_factory(out_dir: Path, steps=20, delay=0.0, error=None, personal_psnr=26.0):
    """Callback-style work like tasks.finetune_work: steps sent with control.report, an Outcome returned; the
    personal model scores ``personal_psnr`` on the held-out photo, the general model 24.1."""

    def factory(payload):
        def work(control):
            if error is not None:
                raise error
            for i in range(1, steps + 1):
                if control.should_stop():
                    raise WorkCancelled
                threading.Event().wait(delay)
                report = {"iteration": i, "total": steps, "eta_s": (steps - i) * 2.0, "loss": 1.0 / i}
                if i % 5 == 0:
                    report["val"] = 24.0 + i / 10
                control.report(Step(i / steps, f"iteration {i}", event=FinetuneProgress(report)))
            out_dir.mkdir(parents=True, exist_ok=True)
            model = out_dir / "personal.safetensors"
            model.write_bytes(b"weights")
            history = [{"iteration": 0, "val_psnr": 24.1}, {"iteration": 20, "val_psnr": personal_psnr}]
            result = FakeResult({"val_psnr": 24.1, "input_psnr": 21.5},
                                {"val_psnr": personal_psnr, "input_psnr": 21.5}, personal_psnr > 24.1, model, history)
            return Outcome("Fine-tuned.", result)
        return work
    return factory


CANDIDATES = [
    FinetuneCandidate(1, "Grandma", 2, (Path("a.jpg"), Path("b.jpg"))),
    FinetuneCandidate(2, "Uncle Tom", 4, (Path("a.jpg"), Path("b.jpg"), Path("c.jpg"), Path("d.jpg"))),
]


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


def make(qtbot, library, factory, kept, discarded, restore_factory=None):
    queue = JobQueue(library, {"finetune": factory, **({"restore": restore_factory} if restore_factory else {})})
    dialog = FinetuneDialog(CANDIDATES, queue=queue, on_keep=lambda pid, r: kept.append((pid, r)),
                            on_discard=lambda pid, r: discarded.append((pid, r)))
    qtbot.addWidget(dialog)
    return dialog, queue


def test_only_people_with_three_photos_can_be_chosen(qtbot, library, tmp_path):
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path), [], [])
    assert dialog.person.currentData() == 2
    assert not dialog.person.model().item(0).isEnabled()
    assert "needs at least 3" in dialog.person.itemText(0)


def test_run_is_a_recorded_job_plots_progress_and_keep_hands_over_the_model(qtbot, library, tmp_path):
    kept, discarded = [], []
    dialog, queue = make(qtbot, library, fake_finetune_factory(tmp_path / "p2"), kept, discarded)
    dialog.minutes.setValue(0.5)
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    job = library.jobs.get(dialog.job_id)
    assert (job.kind, job.state, job.payload["person_id"], job.payload["minutes"]) == ("finetune", "done", 2, 0.5)
    assert queue.entries[dialog.job_id].state == "done"
    assert dialog.phase == "finished"
    assert len(dialog.plot.loss) == 20
    assert dialog.plot.val == [(0, 24.1), (20, 26.0)]  # replaced by the run's history, from iteration 0
    assert dialog.progress.value() == dialog.progress.maximum()
    assert [dialog.results.item(0, c).text() for c in range(4)] == [
        "Held-out photo, PSNR (dB)", "21.50", "24.10", "26.00"]
    assert dialog.status.text() == ("On a photo of Uncle Tom it did not learn from, the personal model came out "
                                    "sharper and closer to the original than the general model. Keep it to use it "
                                    "for Uncle Tom's faces.")
    assert dialog.details.text() == ("The personal model restores the held-out photo better than the general model "
                                     "(+1.90 dB; one photo can tell 0.20 dB or more).")
    dialog.keep()
    assert kept and kept[0][0] == 2 and kept[0][1].model_path == tmp_path / "p2" / "personal.safetensors"
    assert discarded == [] and "kept" in dialog.status.text()


@pytest.mark.parametrize(("personal_psnr", "verdict", "details"), [
    (24.18, "On a photo of Uncle Tom it did not learn from, the personal model and the general model came out too "
            "close to tell apart.",
     "The personal model and the general model differ by +0.08 dB on the held-out photo, too little to tell "
     "which is better (one photo can tell 0.20 dB or more)."),
    (23.7, "On a photo of Uncle Tom it did not learn from, the personal model came out worse than the general model.",
     "The personal model restores the held-out photo worse than the general model (-0.40 dB)."),
])
def test_a_gain_one_photo_cannot_tell_is_not_presented_as_better_but_can_still_be_kept(
        qtbot, library, tmp_path, personal_psnr, verdict, details):
    kept, discarded = [], []
    # the fake says "improved" for any gain, as the fine-tuner did before: the dialog must not trust it
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path / "p2", personal_psnr=personal_psnr), kept,
                     discarded)
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    assert dialog.status.text() == (f"{verdict} The general model is recommended: discard the personal model, or "
                                    "keep it anyway to use it for Uncle Tom's faces.")
    assert dialog.details.text() == details
    assert not dialog.keep_button.isHidden() and dialog.keep_button.isEnabled()
    dialog.keep()
    assert [pid for pid, _ in kept] == [2] and discarded == []


def test_closing_after_a_run_discards_instead_of_leaking(qtbot, library, tmp_path):
    kept, discarded = [], []
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path), kept, discarded)
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    dialog.reject()
    assert kept == [] and [pid for pid, _ in discarded] == [2]


def test_cancel_stops_the_job_and_keeps_nothing(qtbot, library, tmp_path):
    kept, discarded = [], []
    dialog, queue = make(qtbot, library, fake_finetune_factory(tmp_path, steps=500, delay=0.01), kept, discarded)
    dialog.start()
    qtbot.waitUntil(lambda: len(dialog.plot.loss) >= 2, timeout=5000)
    assert dialog.phase == "running"
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=5000)
    assert "cancelled" in dialog.status.text()
    assert kept == [] and discarded == [] and len(dialog.plot.loss) < 500
    assert library.jobs.get(dialog.job_id).state == "cancelled"


def test_failure_shows_the_core_sentence_and_is_recorded(qtbot, library, tmp_path):
    error = ModelError("No trained ENTED model is installed; put one in the model folder.")
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path, error=error), [], [])
    dialog.start()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=5000)
    expected = "Fine-tuning failed: No trained ENTED model is installed; put one in the model folder."
    assert dialog.status.text() == expected
    assert library.jobs.get(dialog.job_id).error == str(error)


def test_a_run_waits_for_a_running_restore_and_says_so(qtbot, library, tmp_path):
    gate = threading.Event()

    def restore_factory(payload):
        def work(control):
            gate.wait(5)
            yield Step(1.0, "restored")
            return "Restored."
        return work

    dialog, queue = make(qtbot, library, fake_finetune_factory(tmp_path), [], [], restore_factory)
    restore_id = queue.submit("restore", {"photo_ids": [1]})
    qtbot.waitUntil(lambda: queue.entries[restore_id].state == "running", timeout=5000)
    dialog.start()
    assert queue.entries[dialog.job_id].state == "queued"
    assert "Waiting for the job before it" in dialog.status.text()
    gate.set()
    qtbot.waitUntil(lambda: dialog.phase == "finished", timeout=5000)


def test_eta_formatting():
    assert format_eta(None) == "estimating…"
    assert format_eta(42) == "42 s left"
    assert format_eta(125) == "2 min 05 s left"
    assert format_eta(3 * 3600 + 60) == "3 h 01 min left"


def test_a_person_with_one_photo_is_listed_in_the_singular(qtbot, library, tmp_path):
    queue = JobQueue(library, {"finetune": fake_finetune_factory(tmp_path)})
    dialog = FinetuneDialog([FinetuneCandidate(3, "Little Tom", 1, (Path("a.jpg"),))], queue=queue,
                            on_keep=lambda pid, r: None, on_discard=lambda pid, r: None)
    qtbot.addWidget(dialog)
    assert dialog.person.itemText(0) == "Little Tom (1 photo) — needs at least 3"


def test_a_person_never_the_largest_face_is_listed_with_their_photos_and_why_none_is_usable(qtbot, library, tmp_path):
    # user test: "Little Tom (0 photos)" although he had a named face (a smaller one beside an adult's)
    queue = JobQueue(library, {"finetune": fake_finetune_factory(tmp_path)})
    dialog = FinetuneDialog([FinetuneCandidate(3, "Little Tom", 1, ())], queue=queue,
                            on_keep=lambda pid, r: None, on_discard=lambda pid, r: None)
    qtbot.addWidget(dialog)
    assert dialog.person.itemText(0) == "Little Tom (1 photo, the largest face in 0) — needs at least 3"


def test_before_start_the_plot_says_what_start_does_and_then_waits_for_iterations(qtbot, library, tmp_path):
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path, delay=0.05), [], [])
    assert dialog.plot.empty_text.startswith("Start trains a personal model")
    dialog.start()
    assert dialog.plot.empty_text == "Waiting for the first iterations…"
    dialog.cancel()
    qtbot.waitUntil(lambda: dialog.phase == "choose", timeout=5000)


def test_closing_the_dialog_while_it_learns_hides_it_and_the_run_goes_on(qtbot, library, tmp_path):
    kept, discarded = [], []
    gate = threading.Event()
    dialog, queue = make(qtbot, library, fake_finetune_factory(tmp_path, steps=30, delay=0.01), kept, discarded)
    assert not dialog.isModal()
    dialog.show()
    dialog.start()
    qtbot.waitUntil(lambda: len(dialog.plot.loss) >= 1, timeout=5000)
    assert dialog.close_button.isVisible() and dialog.cancel_button.isVisible()
    dialog.close_button.click()  # it cancelled the run
    assert not dialog.isVisible() and dialog.phase == "running"
    assert queue.entries[dialog.job_id].state == "running"
    dialog.reject()  # Esc: hidden too
    dialog.close()  # the title bar's close button: hidden, not deleted
    assert queue.entries[dialog.job_id].state in ("running", "done")
    qtbot.waitUntil(lambda: dialog.phase == "finished", timeout=5000)  # the hidden dialog followed the run
    assert len(dialog.plot.loss) == 30 and library.jobs.get(dialog.job_id).state == "done"
    assert kept == [] and discarded == []
    gate.set()


def test_the_verdict_is_in_plain_words_with_the_figures_behind_details(qtbot, library, tmp_path):
    dialog, _ = make(qtbot, library, fake_finetune_factory(tmp_path / "p", personal_psnr=24.15), [], [])
    dialog.show()
    assert "PSNR" not in dialog.plot.val_label and "dB" not in dialog.plot.val_label
    with qtbot.waitSignal(dialog.runFinished, timeout=5000):
        dialog.start()
    text = dialog.status.text()
    assert "too close to tell apart" in text and "did not learn from" in text
    assert "dB" not in text and "PSNR" not in text  # was "... (+0.05 dB; one photo can tell 0.20 dB or more)"
    assert not dialog.results.isVisible() and not dialog.details.isVisible()
    dialog.details_button.click()
    assert dialog.results.isVisible() and "0.20 dB" in dialog.details.text()
