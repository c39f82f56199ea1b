"""The evaluation set, the statistics and the report of `ented evaluate`, on generated faces.

The prepared datasets here are written like `ented prepare-dataset` writes them (crops in person folders and a
manifest of ManifestEntry rows) with drawn faces. The tiny test model works at 32 px; the datasets are 32 px,
except one at 40 px that checks the resize to and from the model's resolution.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from ented_desktop.cli.main import main
from ented_desktop.core.errors import UserError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import read_image_rgb8
from training import eval_set as es
from training import eval_stats as st
from training import evaluate as ev
from training.prepare import MANIFEST, ManifestEntry

SHARED_NIQE = Path(__file__).resolve().parents[2] / "shared" / "models" / "niqe_pris_params.npz"


def synthetic_face(person: int, photo: int, size: int) -> np.ndarray:
    """A drawn face: skin, eye and mouth colours and eye spacing fixed per person, light and offset per photo."""
    p = np.random.default_rng(person)
    q = np.random.default_rng(1000 + 31 * person + photo)
    img = np.full((size, size, 3), p.integers(40, 120, 3), np.uint8)
    dx, dy = (int(v) for v in q.integers(-1, 2, 2))
    c = size // 2
    s = size / 32
    cv2.ellipse(img, (c + dx, c + dy), (int(10 * s), int(13 * s)), 0, 0, 360, p.integers(120, 230, 3).tolist(), -1)
    eye = int((4 + p.integers(0, 3)) * s)
    for x in (c - eye, c + eye):
        cv2.circle(img, (x + dx, int(c - 3 * s) + dy), max(1, int(1.5 * s)), p.integers(0, 80, 3).tolist(), -1)
    cv2.line(img, (int(c - 4 * s) + dx, int(c + 6 * s) + dy), (int(c + 4 * s) + dx, int(c + 6 * s) + dy),
             p.integers(100, 200, 3).tolist(), max(1, int(s)))
    texture = q.normal(0, 6, img.shape)
    return np.clip(img * q.uniform(0.85, 1.15) + texture, 0, 255).astype(np.uint8)


def make_prepared(root: Path, photos_per_person: list[int], size: int = 32) -> Path:
    """A prepared dataset: person k has photos_per_person[k] photos, one crop each."""
    rows = []
    for k, n in enumerate(photos_per_person):
        person = f"Person_{k:02d}"
        for j in range(n):
            file = f"{person}/{person}_{j + 1:04d}_0.png"
            (root / person).mkdir(parents=True, exist_ok=True)
            write_photo_atomic(synthetic_face(k, j, size), root / file)
            rows.append(asdict(ManifestEntry(file=file, person=person, source=f"{person}/{person}_{j + 1:04d}.jpg",
                                             face=0, face_size=200.0, scale=0.6, sharpness=100.0, detector="fake")))
    (root / MANIFEST).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


class ColourEmbedder:
    """A stand-in identity embedder (the mean colour of each quadrant): fast and deterministic."""

    name = "quadrant colours (test)"

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        h = crop.shape[0] // 2
        quads = [crop[:h, :h], crop[:h, h:], crop[h:, :h], crop[h:, h:]]
        return np.concatenate([q.reshape(-1, 3).mean(axis=0) / 255.0 + 0.1 for q in quads]).astype(np.float32)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def prepared(tmp_path) -> Path:
    return make_prepared(tmp_path / "prepared", [2, 3, 1, 6, 2, 2, 1, 2])


def test_eval_set_is_deterministic(prepared, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    settings = es.build_eval_set(prepared, a, level="4x", seed=3, count=8)
    es.build_eval_set(prepared, b, level="4x", seed=3, count=8)
    first = files_of(a)
    assert first == files_of(b)
    assert len([f for f in first if f.startswith("lq/")]) == 8 and settings["people"] == 6
    es.build_eval_set(prepared, a, level="4x", seed=3, count=8)  # rebuilding in place changes nothing
    assert files_of(a) == first
    es.build_eval_set(prepared, tmp_path / "c", level="4x", seed=4, count=8)
    assert files_of(tmp_path / "c") != first


def test_references_are_the_same_person_from_another_photo_and_the_wrong_one_is_not(prepared, tmp_path):
    dst = tmp_path / "set"
    es.build_eval_set(prepared, dst, level="8x", seed=0, count=9)
    manifest = {json.loads(line)["file"]: json.loads(line) for line in (prepared / MANIFEST).read_text().splitlines()}
    rows = es.read_pairs(dst)
    assert [r["id"] for r in rows] == [f"{i:04d}" for i in range(9)]
    for r in rows:
        assert manifest[r["gt"]]["person"] == r["person"] == manifest[r["ref"]]["person"]
        assert r["ref_source"] != r["gt_source"] and r["ref"] != r["gt"]
        assert manifest[r["wrong_ref"]]["person"] == r["wrong_ref_person"] != r["person"]
        assert r["person"] not in ("Person_02", "Person_06")  # one photo: no reference for them
        for folder, source in (("gt", r["gt"]), ("ref", r["ref"]), ("wrong_ref", r["wrong_ref"])):
            np.testing.assert_array_equal(read_image_rgb8(dst / folder / f"{r['id']}.png"),
                                          read_image_rgb8(prepared / source))
        lq = read_image_rgb8(dst / "lq" / f"{r['id']}.png")
        assert lq.shape == (32, 32, 3) and not np.array_equal(lq, read_image_rgb8(prepared / r["gt"]))
        assert 7.5 <= r["degradation"]["downscale"] <= 8.5
    assert len({r["gt"] for r in rows}) == 9


def test_selection_spreads_over_people_with_a_cap():
    entries = [ManifestEntry(file=f"P{k}/{j}.png", person=f"P{k}", source=f"P{k}/{j}.jpg", face=0, face_size=1.0,
                             scale=1.0, sharpness=1.0, detector="x")
               for k, n in enumerate([10, 2, 2, 3]) for j in range(n)]
    rng = np.random.default_rng(0)
    people = [entries[s.gt].person for s in es.select_samples(entries, 4, rng)]
    assert sorted(people) == ["P0", "P1", "P2", "P3"]  # one per person before anyone gets a second
    people = [entries[s.gt].person for s in es.select_samples(entries, 11, np.random.default_rng(0))]
    assert people.count("P0") == es.MAX_PER_PERSON
    with pytest.raises(UserError, match="Only 11 crops"):
        es.select_samples(entries, 12, np.random.default_rng(0))
    shuffled = entries[::-1]
    pick = [shuffled[s.gt].file for s in es.select_samples(shuffled, 6, np.random.default_rng(5))]
    assert pick == [entries[s.gt].file for s in es.select_samples(entries, 6, np.random.default_rng(5))]


def test_ensure_eval_set_builds_reuses_and_checks(prepared):
    target, built = es.ensure_eval_set(prepared, count=5)
    assert built and target == prepared / "eval_4x_seed0_n5"
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*.png")}
    assert es.ensure_eval_set(prepared, count=5) == (target, False)
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*.png")} == before
    assert es.ensure_eval_set(target) == (target, False)
    with pytest.raises(UserError, match="level 4x"):
        es.ensure_eval_set(target, level="8x")
    with pytest.raises(UserError, match="neither a prepared dataset"):
        es.ensure_eval_set(prepared / "Person_00")
    assert es.eval_set_dirname("8x", 2, 500) == "eval_8x_seed2"
    (prepared / MANIFEST).write_text((prepared / MANIFEST).read_text().splitlines(True)[0])  # the dataset changed
    with pytest.raises(UserError, match="built differently"):
        es.build_eval_set(prepared, target, level="4x", seed=0, count=1)


def test_paired_comparison_on_hand_made_numbers():
    p = st.paired_comparison([0.1, 0.2, 0.5, 0.4], [0.3, 0.2, 0.4, 0.6])
    # differences -0.2, 0, 0.1, -0.2: mean -0.075, sample sd sqrt(0.0675 / 3) = 0.15
    assert p["mean_difference"] == pytest.approx(-0.075)
    assert p["sem"] == pytest.approx(0.15 / 2)
    assert p["ci95"] == pytest.approx([-0.075 - 1.96 * 0.075, -0.075 + 1.96 * 0.075])
    assert p["first_closer"] == 0.5 and p["ties"] == 1 and p["n"] == 4
    assert p["sign_test_p"] == pytest.approx(1.0)  # 2 wins, 1 loss: 2 * (1 + 3) / 8
    assert st.sign_test_p(9, 1) == pytest.approx(2 * 11 / 1024)
    assert st.sign_test_p(0, 0) == 1.0
    nan = st.paired_comparison([1.0, float("nan"), 2.0], [2.0, 0.0, 3.0])
    assert nan["n"] == 2 and nan["first_closer"] == 1.0 and nan["mean_difference"] == pytest.approx(-1.0)
    s = st.summarize([1.0, 3.0, float("inf"), float("nan")])
    assert s == {"mean": 2.0, "std": pytest.approx(2**0.5), "sem": pytest.approx(1.0), "n": 2, "excluded": 2}


def test_report_of_model_and_baselines(tiny_model_dir, tmp_path):
    prepared = make_prepared(tmp_path / "p40", [2, 3, 2, 2], size=40)
    eval_set, _ = es.ensure_eval_set(prepared, count=6)
    model = str(tiny_model_dir / "tiny.safetensors")
    report = ev.evaluate(model, eval_set, device="cpu", models=[("again", model)], out_dir=tmp_path / "out",
                         batch_size=4, embedder=ColourEmbedder(), show_progress=False)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    for key in ("eval_set", "methods", "models", "metrics", "paired", "context", "notes", "seconds", "samples"):
        assert key in saved
    assert saved["methods"] == ["input", "model", "wrong_ref", "again"]
    for method in saved["methods"]:
        assert set(saved["metrics"][method]) == {"psnr_y", "ssim_y", "identity_distance", "identity_angle_deg"}
        assert saved["metrics"][method]["psnr_y"]["n"] == 6
    # the same weights with the same references give the same numbers
    assert saved["metrics"]["again"]["psnr_y"] == saved["metrics"]["model"]["psnr_y"]
    assert saved["models"]["model"]["resolution"] == 32 and saved["models"]["model"]["iterations"] >= 1
    assert "Y channel of BT.601" in saved["notes"]["colour_space"]
    assert saved["notes"]["identity"].startswith("distance and angle by " + ColourEmbedder.name)
    assert saved["notes"]["niqe"].startswith("not computed") and saved["notes"]["lpips"].startswith("not computed")
    paired = saved["paired"]["model_vs_wrong_ref"]["identity_distance"]
    d_model = [s["model"]["identity_distance"] for s in saved["samples"]]
    d_wrong = [s["wrong_ref"]["identity_distance"] for s in saved["samples"]]
    assert json.loads(json.dumps(st.paired_comparison(d_model, d_wrong))) == paired
    assert "model_vs_input" in saved["paired"]
    psnr_in = [s["input"]["psnr_y"] for s in saved["samples"]]
    assert saved["metrics"]["input"]["psnr_y"]["mean"] == pytest.approx(np.mean(psnr_in))
    md = (tmp_path / "out" / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| method |"))
    assert md == report["markdown"] and "| degraded input |" in md and "PSNR (Y)" in header and "NIQE" not in header
    grid = read_image_rgb8(tmp_path / "out" / "grid.png")
    assert grid.shape == (22 + 6 * 128, 6 * 128, 3)  # LQ | ref | wrong-ref output | output | again | GT


def test_baselines_only_with_niqe(tmp_path, prepared):
    if not SHARED_NIQE.is_file():
        pytest.skip(f"{SHARED_NIQE} is absent (read-only project data)")
    eval_set, _ = es.ensure_eval_set(prepared, count=4)
    report = ev.evaluate(None, eval_set, niqe_params=SHARED_NIQE, embedder=ColourEmbedder(), show_progress=False)
    assert report["methods"] == ["input"] and report["models"] == {} and report["paired"] == {}
    assert Path(report["out_dir"]) == eval_set / "results" / "input-only"
    assert report["metrics"]["input"]["niqe"]["n"] + report["metrics"]["input"]["niqe"]["excluded"] == 4
    assert set(report["metrics"]["gt"]) == {"niqe"}
    assert "| ground truth | – | – |" in report["markdown"]
    assert read_image_rgb8(Path(report["out_dir"]) / "grid.png").shape[1] == 3 * 128
    with pytest.raises(UserError, match="Nothing to evaluate"):
        ev.evaluate(None, eval_set, baselines=False, show_progress=False)
    with pytest.raises(UserError, match="reserved"):
        ev.evaluate(None, eval_set, models=[("model", "x.safetensors")], show_progress=False)


def test_lpips_and_fid_are_used_only_when_present(tmp_path, monkeypatch, prepared):
    eval_set, _ = es.ensure_eval_set(prepared, count=4)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    status = ev.optional_metric_status()
    assert "lpips package is not installed" in status["lpips"] and ev.LPIPS_WEIGHTS in status["lpips"]
    assert "never downloaded" in status["fid"]

    import torch

    class FakeLPIPS(torch.nn.Module):
        def __init__(self, net: str, verbose: bool) -> None:
            super().__init__()

        def forward(self, x, y):
            return (x - y).abs().mean(dim=(1, 2, 3), keepdim=True)

    class FakeInception(torch.nn.Module):
        BLOCK_INDEX_BY_DIM = {2048: 3}

        def __init__(self, blocks: list[int]) -> None:
            super().__init__()

        def forward(self, x):
            return [x.mean(dim=(2, 3)).repeat(1, 683)[:, :2048, None, None]]

    fakes = {"lpips": types.SimpleNamespace(LPIPS=FakeLPIPS),
             "pytorch_fid": types.ModuleType("pytorch_fid"),
             "pytorch_fid.inception": types.SimpleNamespace(InceptionV3=FakeInception),
             "pytorch_fid.fid_score": types.SimpleNamespace(
                 calculate_frechet_distance=lambda m1, s1, m2, s2: float(np.sum((m1 - m2) ** 2)))}
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(ev, "_installed", lambda package: True)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / ev.LPIPS_WEIGHTS).write_bytes(b"x")
    (checkpoints / ev.FID_WEIGHTS).write_bytes(b"x")
    assert ev.optional_metric_status() == {"lpips": None, "fid": None}
    report = ev.evaluate(None, eval_set, embedder=ColourEmbedder(), show_progress=False)
    rows = es.read_pairs(eval_set)
    gts = [read_image_rgb8(eval_set / "gt" / f"{r['id']}.png") for r in rows]
    lqs = [read_image_rgb8(eval_set / "lq" / f"{r['id']}.png") for r in rows]
    expected = np.mean([np.abs(2 * (a / 255.0) - 2 * (b / 255.0)).mean() for a, b in zip(lqs, gts, strict=True)])
    assert report["metrics"]["input"]["lpips"]["mean"] == pytest.approx(expected, rel=1e-5)
    assert report["metrics"]["input"]["fid"]["value"] > 0
    assert "LPIPS ↓" in report["markdown"] and "FID ↓" in report["markdown"]


def test_cli_builds_reuses_and_prints_the_table(tiny_model_dir, prepared, capsys):
    args = ["evaluate", "--dataset", str(prepared), "--model", str(tiny_model_dir / "tiny.safetensors"),
            "--device", "cpu", "--count", "2", "--level", "8x"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "| model, wrong person's reference |" in out and "built evaluation set" in err
    eval_set = prepared / "eval_8x_seed0_n2"
    report = json.loads((eval_set / "results" / "tiny" / "report.json").read_text())
    assert report["eval_set"]["level"] == "8x" and report["metrics"]["model"]["identity_distance"]["n"] == 2
    assert "dlib" in report["notes"]["identity"]
    assert main(["evaluate", "--dataset", str(eval_set), "--baselines-only", "--out", str(prepared / "o")]) == 0
    assert "using evaluation set" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", str(eval_set), "--baselines-only", "--seed", "1"]) == 2
    assert main(["evaluate", "--dataset", str(prepared), "--baselines-only", "--compare", "nolabel"]) == 2
    capsys.readouterr()
    assert main(["evaluate", "--dataset", str(prepared), "--model", "no-such-model", "--count", "3"]) == 2
    assert "no-such-model" in capsys.readouterr().err and not (prepared / "eval_4x_seed0_n3").exists()


def test_report_on_people_model_selection_never_saw():
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "report_unseen.py"
    spec = importlib.util.spec_from_file_location("report_unseen", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def sample(person, model_id, wrong_id, input_id):
        def values(identity):
            return {"psnr_y": 30.0, "ssim_y": 0.9, "niqe": 10.0, "identity_distance": identity}
        return {"person": person, "model": values(model_id), "wrong_ref": values(wrong_id), "input": values(input_id)}

    report = {"samples": [sample("Ann", 0.1, 0.9, 0.9), sample("Bob", 0.4, 0.5, 0.3), sample("Cy", 0.6, 0.9, 0.5)]}
    result = module.unseen_report(report, selection_people={"Ann"})
    assert result["faces"] == 2 and result["people"] == 2
    assert result["means"]["model"]["identity_distance"] == pytest.approx(0.5)  # (0.4 + 0.6) / 2, Ann left out
    true_vs_wrong = result["paired"]["model vs wrong_ref"]
    assert true_vs_wrong["mean_difference"] == pytest.approx(-0.2) and true_vs_wrong["first_closer"] == 1.0
    assert result["paired"]["model vs input"]["mean_difference"] == pytest.approx(0.1)


def test_attention_probe_tells_uniform_from_one_hot_attention(tiny_model_dir, prepared, capsys):
    import importlib.util

    import torch

    script = Path(__file__).resolve().parents[1] / "scripts" / "attention_probe.py"
    spec = importlib.util.spec_from_file_location("attention_probe", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    v = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(0))
    summaries = []
    for attn in (torch.full((2, 16, 16), 1 / 16), torch.eye(16).expand(2, 16, 16)):
        out = torch.bmm(attn, v.transpose(1, 2)).transpose(1, 2)
        summaries.append(module.summarise([{"attn": attn, "out": out, "v": v}], 0))
    uniform, one_hot = summaries
    assert uniform["entropy"] == pytest.approx(1.0) and uniform["largest"] == pytest.approx(1 / 16)
    assert uniform["selectivity"] == pytest.approx(0.0, abs=1e-6)
    assert one_hot["entropy"] == pytest.approx(0.0, abs=1e-6) and one_hot["largest"] == pytest.approx(1.0)
    assert 0.9 < one_hot["selectivity"] < 1.0  # one value each: as far from the average as the values are (RMS)

    from ented_desktop.core.network import refinement

    original = refinement.cross_attention
    eval_set, _ = es.ensure_eval_set(prepared, count=4)
    assert module.main([str(eval_set), "--model", str(tiny_model_dir / "tiny.safetensors"), "--count", "4"]) == 0
    table = capsys.readouterr().out
    assert "| input -> reference (V_LQ) | " in table and "| reference -> input (V_ref) | " in table
    assert refinement.cross_attention is original  # the recording is undone
