from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ented_desktop.core.errors import UserError
from ented_desktop.core.imageio import read_image_rgb8
from training.degradation import (
    LEVELS,
    DegradationParams,
    DegradationRanges,
    degrade,
    degrade_folder,
    sample_params,
    smooth_mask,
    training_level,
)

IDENTITY = DegradationParams(blur_sigma=0.1, downscale=1.0, noise_sigma=0.0, jpeg_quality=100)


def _texture(h: int = 96, w: int = 96, seed: int = 0) -> np.ndarray:
    """A face-like test picture: smooth colour shading plus fine detail, mostly in the luma as in photos."""
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    detail = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w), dtype=np.float32), (0, 0), 1.0)
    base = np.stack([0.6 + 0.2 * np.sin(4 * xs), 0.45 + 0.2 * np.cos(3 * ys), 0.35 + 0.1 * xs], axis=-1)
    return np.clip(base + 0.5 * (detail[:, :, None] - 0.5), 0, 1).astype(np.float32)


def _high_frequency_energy(img: np.ndarray) -> float:
    grey = img.mean(axis=2)
    return float(np.var(cv2.Laplacian(grey, cv2.CV_32F)))


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_sampled_params_stay_in_range(level: str) -> None:
    r = LEVELS[level]
    for seed in range(400):
        p = sample_params(np.random.default_rng(seed), r)
        assert r.blur_sigma[0] <= p.blur_sigma <= r.blur_sigma[1]
        assert r.downscale[0] <= p.downscale <= r.downscale[1]
        assert r.noise_sigma[0] <= p.noise_sigma <= r.noise_sigma[1]
        assert r.jpeg_quality[0] <= p.jpeg_quality <= r.jpeg_quality[1]
        assert isinstance(p.jpeg_quality, int)
        if p.haze_transmission is not None:
            assert r.haze_transmission[0] <= p.haze_transmission <= r.haze_transmission[1]
            assert r.haze_light[0] <= p.haze_light <= r.haze_light[1]
        if p.uneven_blur_sigma is not None:
            assert r.blur_sigma[0] <= p.uneven_blur_sigma <= r.blur_sigma[1]
            assert p.uneven_noise_sigma is not None
            assert r.noise_sigma[0] <= p.uneven_noise_sigma <= r.noise_sigma[1]
        assert abs(p.shift_x) <= r.misalign_shift and abs(p.shift_y) <= r.misalign_shift
        assert abs(p.rotation) <= r.misalign_angle


def test_paper_level_is_the_paper_model_and_edm_options_follow_their_probabilities() -> None:
    paper = LEVELS["paper"]
    assert (paper.blur_sigma, paper.downscale, paper.noise_sigma, paper.jpeg_quality) == (
        (0.1, 10.0), (1.0, 8.0), (0.0, 15.0), (60, 100)
    )
    assert paper.haze_prob == paper.uneven_prob == paper.misalign_prob == 0.0
    # The 128 px training level changes the blur range only, and still covers both evaluation levels.
    assert LEVELS["paper128"] == dataclasses.replace(paper, blur_sigma=(0.1, 5.0))
    assert all(LEVELS["paper128"].blur_sigma[1] >= LEVELS[level].blur_sigma[1] for level in ("4x", "8x"))
    assert (training_level(128), training_level(512)) == ("paper128", "paper")
    drawn = [sample_params(np.random.default_rng(s), LEVELS["edm"]) for s in range(2000)]
    haze = np.mean([p.haze_transmission is not None for p in drawn])
    uneven = np.mean([p.uneven_blur_sigma is not None for p in drawn])
    shifted = np.mean([p.rotation != 0.0 for p in drawn])
    edm = LEVELS["edm"]
    assert abs(haze - edm.haze_prob) < 0.04
    assert abs(uneven - edm.uneven_prob) < 0.04
    assert abs(shifted - edm.misalign_prob) < 0.04


def test_invalid_ranges_are_rejected() -> None:
    with pytest.raises(ValueError):
        DegradationRanges(downscale=(0.5, 2.0))
    with pytest.raises(ValueError):
        DegradationRanges(blur_sigma=(3.0, 1.0))
    with pytest.raises(ValueError):
        DegradationRanges(jpeg_quality=(60, 101))
    with pytest.raises(ValueError):
        DegradationParams(1.0, 2.0, 0.0, 90, uneven_blur_sigma=2.0)


def test_same_seed_same_output_different_seed_different_output() -> None:
    img = _texture()
    ranges = LEVELS["edm"]

    def run(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return degrade(img, sample_params(rng, ranges), rng)

    np.testing.assert_array_equal(run(7), run(7))
    assert np.abs(run(7) - run(8)).mean() > 1e-3
    # Same parameters, different noise draw.
    params = dataclasses.replace(IDENTITY, noise_sigma=10.0)
    a = degrade(img, params, np.random.default_rng(1))
    b = degrade(img, params, np.random.default_rng(2))
    assert np.abs(a - b).mean() > 1e-3


def test_mildest_setting_is_nearly_identity() -> None:
    img = _texture()
    out = degrade(img, IDENTITY, np.random.default_rng(0))
    diff = np.abs(out - img)
    # 8-bit quantisation and JPEG-100 with 4:2:0 chroma are all that remain.
    assert diff.mean() < 0.01
    assert np.percentile(diff, 99) < 0.04


def test_blur_lowers_high_frequency_energy() -> None:
    img = _texture()
    sharp = _high_frequency_energy(degrade(img, IDENTITY, np.random.default_rng(0)))
    rng = np.random.default_rng(0)
    energies = [
        _high_frequency_energy(degrade(img, dataclasses.replace(IDENTITY, blur_sigma=s), rng))
        for s in (1.0, 2.0, 4.0)
    ]
    assert energies[0] < 0.5 * sharp
    assert energies[2] < energies[1] < energies[0]
    assert energies[2] < 0.05 * sharp


def test_downscaling_also_removes_detail() -> None:
    img = _texture()
    sharp = _high_frequency_energy(degrade(img, IDENTITY, np.random.default_rng(0)))
    small = degrade(img, dataclasses.replace(IDENTITY, downscale=4.0), np.random.default_rng(0))
    assert _high_frequency_energy(small) < 0.2 * sharp


@pytest.mark.parametrize("sigma", [5.0, 15.0])
def test_noise_has_the_requested_strength(sigma: float) -> None:
    flat = np.full((256, 256, 3), 0.5, dtype=np.float32)
    out = degrade(flat, dataclasses.replace(IDENTITY, noise_sigma=sigma), np.random.default_rng(0)) * 255.0
    # Colour noise of std sigma per channel; 4:2:0 JPEG averages the chroma, so measure the luma, whose
    # std is sigma * sqrt(0.299^2 + 0.587^2 + 0.114^2) = 0.6686 sigma for independent channels.
    luma = out @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert luma.std() == pytest.approx(0.6686 * sigma, rel=0.05)
    assert out.mean() == pytest.approx(127.5, abs=0.5)


def test_haze_blends_toward_the_atmospheric_light() -> None:
    black = np.zeros((32, 32, 3), dtype=np.float32)
    hazy = dataclasses.replace(IDENTITY, haze_transmission=0.6, haze_light=0.8)
    out = degrade(black, hazy, np.random.default_rng(0))
    assert out.mean() == pytest.approx(0.4 * 0.8, abs=2 / 255)


def test_misalignment_shifts_the_input() -> None:
    img = _texture(64, 64)
    shifted = degrade(img, dataclasses.replace(IDENTITY, shift_x=4 / 64), np.random.default_rng(0))
    plain = degrade(img, IDENTITY, np.random.default_rng(0))
    assert np.abs(shifted[:, 8:] - plain[:, 4:-4]).mean() < 0.01
    assert np.abs(shifted - plain).mean() > 0.02


def test_uneven_degradation_varies_across_the_image() -> None:
    mask = smooth_mask((64, 80), np.random.default_rng(3))
    assert mask.shape == (64, 80) and mask.min() >= 0.0 and mask.max() <= 1.0
    assert np.abs(np.diff(mask, axis=1)).max() < 0.1  # smooth
    img = _texture(128, 128)
    params = dataclasses.replace(IDENTITY, blur_sigma=0.1, uneven_blur_sigma=6.0, uneven_noise_sigma=0.0)
    rng = np.random.default_rng(3)
    out = degrade(img, params, rng)
    weight = smooth_mask((128, 128), np.random.default_rng(3))
    sharp_region = weight > 0.8
    blurred_region = weight < 0.2
    assert sharp_region.any() and blurred_region.any()
    error = np.abs(out - img).mean(axis=2)
    assert error[blurred_region].mean() > 3 * error[sharp_region].mean()


@pytest.mark.parametrize("level", sorted(LEVELS))
@pytest.mark.parametrize("shape", [(128, 128), (37, 53)])
def test_output_shape_dtype_and_range(level: str, shape: tuple[int, int]) -> None:
    img = _texture(*shape)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        out = degrade(img, sample_params(rng, LEVELS[level]), rng)
        assert out.shape == img.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_degrade_rejects_uint8() -> None:
    with pytest.raises(ValueError):
        degrade((_texture() * 255).astype(np.uint8), IDENTITY, np.random.default_rng(0))


def _write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), (img[:, :, ::-1] * 255).astype(np.uint8))


def test_degrade_folder_is_independent_of_file_order(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_png(src / "a.png", _texture(64, 64, seed=1))
    _write_png(src / "sub" / "b.png", _texture(48, 40, seed=2))
    (src / "sub" / "broken.jpg").write_bytes(b"not a jpeg")
    (src / "notes.txt").write_text("ignored")

    counts = degrade_folder(src, tmp_path / "one", level="4x", seed=11)
    assert counts["found"] == 3 and counts["degraded"] == 2 and counts["skipped"] == 1
    b_one = read_image_rgb8(tmp_path / "one" / "sub" / "b.png")
    assert b_one.shape == (48, 40, 3)
    lines = [json.loads(x) for x in (tmp_path / "one" / "params.jsonl").read_text().splitlines()]
    assert [x["file"] for x in lines] == ["a.png", "sub/b.png"]
    assert 3.5 <= lines[1]["downscale"] <= 4.5

    (src / "a.png").unlink()
    degrade_folder(src, tmp_path / "two", level="4x", seed=11)
    np.testing.assert_array_equal(read_image_rgb8(tmp_path / "two" / "sub" / "b.png"), b_one)
    degrade_folder(src, tmp_path / "three", level="4x", seed=12)
    assert np.abs(read_image_rgb8(tmp_path / "three" / "sub" / "b.png").astype(int) - b_one).mean() > 0.5


def test_degrade_cli_exits_1_when_an_image_could_not_be_read(tmp_path: Path, capsys) -> None:
    from ented_desktop.cli.main import main

    src = tmp_path / "src"
    _write_png(src / "a.png", _texture(32, 32, seed=1))
    assert main(["degrade", str(src), str(tmp_path / "ok"), "--level", "4x"]) == 0
    capsys.readouterr()
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["degrade", str(src), str(tmp_path / "partly"), "--level", "4x"]) == 1
    assert json.loads(capsys.readouterr().out)["skipped"] == 1


def test_degrade_folder_rejects_bad_arguments(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_png(src / "a.png", _texture(16, 16))
    with pytest.raises(UserError):
        degrade_folder(src, tmp_path / "out", level="16x", seed=0)
    with pytest.raises(UserError):
        degrade_folder(src, src / "out", level="paper", seed=0)
    with pytest.raises(UserError):
        degrade_folder(tmp_path / "missing", tmp_path / "out", level="paper", seed=0)
    _write_png(src / "a.jpg", _texture(16, 16))
    with pytest.raises(UserError):
        degrade_folder(src, tmp_path / "out", level="paper", seed=0)
