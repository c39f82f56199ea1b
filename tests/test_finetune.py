"""Personal fine-tuning: bounded time, held-out validation, a registered model with its card."""

import shutil
from pathlib import Path

import pytest
from PIL import Image

import training.finetune
from ented_desktop.cli.main import main
from ented_desktop.core.errors import UserError
from ented_desktop.core.finetune_verdict import FLATTERED_THRESHOLD_DB, KEEP_THRESHOLD_DB, assess
from ented_desktop.core.weights import add_to_manifest, load_generator, read_manifest
from training.finetune import FinetuneResult, finetune_person, person_photos


@pytest.fixture
def person_dir(shared_dir, tmp_path):
    src = shared_dir / "data/lfw/images_deepfunneled/Aaron_Peirsol"
    dst = tmp_path / "Aaron"
    shutil.copytree(src, dst)
    return dst


def test_finetune_writes_a_verified_personal_model_with_figures(person_dir, tiny_model_dir, tmp_path):
    reports = []
    result = finetune_person(person_photos(person_dir), base_model=tiny_model_dir / "tiny.safetensors",
                             out_dir=tmp_path / "personal", minutes=0.15, val_every=2, progress_fn=reports.append)
    assert result.model_path is not None and result.model_path.exists()
    manifest = read_manifest(result.model_path.parent)
    assert result.model_path.name in manifest and result.model_path.with_suffix(".onnx").name in manifest
    generator, info = load_generator(result.model_path)
    ft = info["finetune"]
    # Four photos: two train, the third picks the weights, the fourth reports before and after.
    assert ft["held_out"] == result.held_out == "Aaron_Peirsol_0004.jpg" and ft["picked_on"] == "Aaron_Peirsol_0003.jpg"
    assert "Aaron_Peirsol_0004.jpg" in ft["photos"]
    assert ft["iterations"] >= 1 and info["iterations"] > ft["iterations"]
    verdict = assess(result.before, result.after)
    assert result.improved == verdict.keep and not result.after["picked_weights"]
    assert (ft["gain_db"], ft["verdict"], ft["keep_threshold_db"]) == (verdict.gain_db, verdict.outcome,
                                                                      KEEP_THRESHOLD_DB)
    card = result.model_path.with_suffix(".md").read_text()
    assert "Held-out photo" in card and f"{result.before['val_psnr']:.2f}" in card
    assert verdict.sentence("base model") in card
    assert "`Aaron_Peirsol_0003.jpg`, also held out, picked" in card and "flattered" not in card
    assert reports and reports[-1]["iteration"] >= 1 and "eta_s" in reports[-1]
    assert any("val" in r for r in reports)


def test_with_three_faces_one_photo_chooses_and_reports(person_dir, tiny_model_dir, tmp_path):
    # The last photo by name has no face: the held-out photo is the last one that has one.
    Image.new("RGB", (250, 250), (128, 128, 128)).save(person_dir / "Aaron_Peirsol_0009.jpg")
    photos = person_photos(person_dir)[1:]
    result = finetune_person(photos, base_model=tiny_model_dir / "tiny.safetensors",
                             out_dir=tmp_path / "personal", minutes=0.05, val_every=2)
    ft = load_generator(result.model_path)[1]["finetune"]
    assert result.held_out == ft["held_out"] == ft["picked_on"] == "Aaron_Peirsol_0004.jpg"
    assert ft["skipped_photos"] == ["Aaron_Peirsol_0009.jpg: no face found"]
    assert "flattered" in result.model_path.with_suffix(".md").read_text()
    assert result.after["picked_weights"] and ft["keep_threshold_db"] == FLATTERED_THRESHOLD_DB


@pytest.mark.parametrize("steps_before_cancel", [0, 3])
def test_a_cancelled_run_keeps_nothing(person_dir, tiny_model_dir, tmp_path, steps_before_cancel):
    reports = []
    result = finetune_person(person_photos(person_dir), base_model=tiny_model_dir / "tiny.safetensors",
                             out_dir=tmp_path / "personal", minutes=1, progress_fn=reports.append,
                             abort_fn=lambda: len(reports) >= steps_before_cancel)
    assert result.model_path is None and not result.improved
    assert not (tmp_path / "personal").exists() or not any((tmp_path / "personal").iterdir())


def test_too_few_photos_is_a_clear_error(person_dir, tiny_model_dir, tmp_path):
    photos = person_photos(person_dir)[:2]
    with pytest.raises(UserError, match="at least 3 photos"):
        finetune_person(photos, base_model=tiny_model_dir / "tiny.safetensors", out_dir=tmp_path, minutes=0.1)


def test_cli_reports_before_and_after(person_dir, tiny_model_dir, tmp_path, capsys):
    code = main(["finetune", "--person-dir", str(person_dir), "--base", str(tiny_model_dir / "tiny.safetensors"),
                 "--minutes", "0.1", "--model-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "base model" in out and "personal model" in out
    kept = (tmp_path / "personal" / "Aaron.safetensors").exists()
    assert kept == ("better than the base model" in out)


def test_an_existing_personal_model_is_never_replaced(person_dir, tiny_model_dir, tmp_path, capsys):
    kept = tmp_path / "personal" / "Aaron.safetensors"
    kept.parent.mkdir()
    kept.write_bytes(b"the model the family kept")
    code = main(["finetune", "--person-dir", str(person_dir), "--base", str(tiny_model_dir / "tiny.safetensors"),
                 "--minutes", "0.1", "--model-dir", str(tmp_path)])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert kept.read_bytes() == b"the model the family kept"
    with pytest.raises(UserError, match="plain file name"):
        finetune_person(person_photos(person_dir), base_model=tiny_model_dir / "tiny.safetensors",
                        out_dir=tmp_path / "personal", name="../Aaron", minutes=0.1)


def figures(general: float, personal: float, picked: bool = False) -> tuple[dict, dict]:
    """A fine-tune's before and after; ``picked``: the held-out photo also picked the weights (three photos)."""
    return {"val_psnr": general, "input_psnr": 24.0}, {"val_psnr": personal, "input_psnr": 24.0,
                                                       "picked_weights": picked}


@pytest.mark.parametrize(("general", "personal", "picked", "outcome"), [
    (26.00, 26.08, False, "too close to tell"),  # the +0.08 dB on one photo that used to be "keep it"
    (26.00, 25.85, False, "too close to tell"),
    (26.00, 26.20, False, "better"),
    (26.00, 26.199, False, "better"),  # shown as +0.20: the words follow the figure shown
    (26.00, 25.80, False, "worse"),
    (26.00, 26.25, True, "too close to tell"),  # with three photos the held-out photo also chose the weights
    (26.00, 26.30, True, "better"),
])
def test_only_a_gain_larger_than_one_photo_can_tell_recommends_the_personal_model(general, personal, picked,
                                                                                   outcome):
    verdict = assess(*figures(general, personal, picked))
    assert verdict.outcome == outcome and verdict.keep == (outcome == "better")


def test_the_verdict_says_plainly_what_one_photo_can_tell():
    assert assess(*figures(26.0, 26.08)).sentence() == (
        "The personal model and the general model differ by +0.08 dB on the held-out photo, too little to tell "
        "which is better (one photo can tell 0.20 dB or more).")
    assert assess(*figures(26.0, 26.25, picked=True)).sentence("base model") == (
        "The personal model and the base model differ by +0.25 dB on the held-out photo, too little to tell "
        "which is better (one photo can tell 0.30 dB or more, and this one also picked the personal model's "
        "weights).")
    assert assess(*figures(26.0, 26.45)).sentence() == (
        "The personal model restores the held-out photo better than the general model (+0.45 dB; one photo can "
        "tell 0.20 dB or more).")
    assert assess(*figures(26.0, 25.7)).sentence() == (
        "The personal model restores the held-out photo worse than the general model (-0.30 dB).")
    assert assess(*figures(26.0, 25.999)).sentence().startswith("The personal model and the general model "
                                                                "differ by +0.00 dB")


@pytest.fixture
def small_gain_finetune(monkeypatch, person_dir):
    """``finetune_person`` as if it had made a personal model 0.08 dB better on the held-out photo."""

    def fake(photos, *, out_dir, name, **kwargs):
        model = Path(out_dir) / f"{name}.safetensors"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"weights")
        add_to_manifest(model)
        before, after = figures(26.00, 26.08)
        return FinetuneResult(before, after, assess(before, after).keep, model, "Aaron_Peirsol_0004.jpg")

    monkeypatch.setattr(training.finetune, "finetune_person", fake)
    return person_dir


def test_cli_discards_a_personal_model_whose_gain_is_too_small_to_tell(small_gain_finetune, tmp_path, capsys):
    code = main(["finetune", "--person-dir", str(small_gain_finetune), "--model-dir", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0] == ("held-out photo Aaron_Peirsol_0004.jpg: degraded input 24.00 dB; base model "
                                    "26.00 dB; personal model 26.08 dB (+0.08 dB)")
    assert out[1:] == [assess(*figures(26.00, 26.08)).sentence("base model"),
                       "Keeping the base model (--keep would have kept the personal model)."]
    assert not (tmp_path / "personal" / "Aaron.safetensors").exists()
    assert read_manifest(tmp_path / "personal") == {}


def test_cli_keeps_it_anyway_when_asked(small_gain_finetune, tmp_path, capsys):
    code = main(["finetune", "--person-dir", str(small_gain_finetune), "--model-dir", str(tmp_path), "--keep"])
    model = tmp_path / "personal" / "Aaron.safetensors"
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and model.exists()
    assert out[2:] == ["Kept as --keep asked, although the base model is recommended.", f"Saved: {model}",
                       f"Use it with: ented restore ... --model {model}"]


def test_cli_says_when_the_fine_tune_stopped_before_any_model(person_dir, tmp_path, monkeypatch, capsys):
    def fake(photos, **kwargs):
        before = figures(26.0, 26.0)[0]
        return FinetuneResult(before, before, False, None, "Aaron_Peirsol_0004.jpg")

    monkeypatch.setattr(training.finetune, "finetune_person", fake)
    assert main(["finetune", "--person-dir", str(person_dir), "--model-dir", str(tmp_path), "--keep"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == ("The fine-tune stopped before its first iteration; keeping the "
                                                       "base model.")
