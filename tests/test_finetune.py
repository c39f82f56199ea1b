"""Personal fine-tuning: bounded time, held-out validation, a registered model with its card."""

import shutil

import pytest
from PIL import Image

from ented_desktop.cli.main import main
from ented_desktop.core.errors import UserError
from ented_desktop.core.weights import load_generator, read_manifest
from training.finetune import finetune_person, person_photos


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
    assert result.improved == (result.after["val_psnr"] > result.before["val_psnr"])
    card = result.model_path.with_suffix(".md").read_text()
    assert "Held-out photo" in card and f"{result.before['val_psnr']:.2f}" in card
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
    assert kept == ("is better" in out)


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
