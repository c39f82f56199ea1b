from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ented_desktop.core.errors import UserError
from training.dataset import FaceTripletDataset
from training.degradation import LEVELS
from training.loop import IterationDraws
from training.prepare import MANIFEST, ManifestEntry

SIZE = 32
# (person, source): Ann has three photos, Bob one, Cid one photo with two faces, plus an unlabelled face.
CROPS = [
    ("Ann", "Ann/1.jpg"), ("Ann", "Ann/2.jpg"), ("Bob", "Bob/1.jpg"), ("Ann", "Ann/3.jpg"),
    ("Cid", "Cid/1.jpg"), ("Cid", "Cid/1.jpg"), (None, "group.jpg"),
]


def _make_dataset_folder(root: Path, size: int = SIZE) -> None:
    root.mkdir(parents=True)
    lines = []
    for i, (person, source) in enumerate(CROPS):
        rng = np.random.default_rng(i)
        img = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), np.uint8), (0, 0), 1.0)
        file = f"{person}/{i}_0.png" if person else f"{i}_0.png"
        (root / file).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(root / file), img[:, :, ::-1])
        entry = ManifestEntry(file=file, person=person, source=source, face=i % 2, face_size=200.0,
                              scale=0.6, sharpness=100.0, detector="test")
        lines.append(json.dumps(dataclasses.asdict(entry)) + "\n")
    (root / MANIFEST).write_text("".join(lines))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "faces"
    _make_dataset_folder(path)
    return path


def _dataset(root: Path, **kwargs: object) -> FaceTripletDataset:
    options: dict = {"size": SIZE, "ranges": LEVELS["edm"], "seed": 3}
    options.update(kwargs)
    return FaceTripletDataset(root, **options)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_draw_same_sample_different_draws_differ(root: Path) -> None:
    ds = _dataset(root)
    assert len(ds) == len(CROPS)
    assert _same(ds[5], ds[5])
    assert _same(ds[5], _dataset(root)[5])
    assert not torch.equal(ds[5]["lq"], ds[6]["lq"])
    assert not torch.equal(ds[5]["lq"], _dataset(root, seed=4)[5]["lq"])
    with pytest.raises(IndexError):
        ds[-1]


def test_shapes_and_value_ranges(root: Path) -> None:
    ds = _dataset(root)
    for draw in range(0, 40, 3):
        sample = ds[draw]
        for key in ("lq", "ref", "gt"):
            x = sample[key]
            assert x.shape == (3, SIZE, SIZE) and x.dtype == torch.float32
            assert x.min() >= -1.0 and x.max() <= 1.0
        for key in ("synthetic_ref", "self_ref"):
            assert sample[key].dtype == torch.bool and sample[key].shape == ()


def test_every_epoch_shows_every_crop_once_in_a_new_order(root: Path) -> None:
    ds = _dataset(root)
    n = len(ds)
    orders = [[ds.face_index(d) for d in range(e * n, (e + 1) * n)] for e in range(4)]
    for order in orders:
        assert sorted(order) == list(range(n))
    assert len({tuple(o) for o in orders}) > 1


def _crop_index(ds: FaceTripletDataset, image: torch.Tensor) -> int:
    target = ((image.permute(1, 2, 0).numpy() + 1.0) / 2.0).astype(np.float32)
    matches = [i for i in range(len(ds)) if np.abs(ds.crop(i) - target).max() < 1e-5]
    assert len(matches) == 1
    return matches[0]


def test_reference_is_another_photo_of_the_same_person(root: Path) -> None:
    ds = _dataset(root, augment=False, self_reference_prob=0.0)
    seen_real = 0
    for draw in range(60):
        sample = ds[draw]
        gt = _crop_index(ds, sample["gt"])
        assert gt == ds.face_index(draw)
        person, source = CROPS[gt]
        if sample["synthetic_ref"]:
            # Only faces without another photo of their person: Bob, both Cid faces, the unlabelled one.
            assert gt in (2, 4, 5, 6)
        else:
            ref = _crop_index(ds, sample["ref"])
            assert CROPS[ref][0] == person is not None and CROPS[ref][1] != source
            seen_real += 1
    assert seen_real > 15


def test_self_reference_is_the_degraded_input(root: Path) -> None:
    always = _dataset(root, self_reference_prob=1.0)
    for draw in range(10):
        sample = always[draw]
        assert sample["self_ref"] and not sample["synthetic_ref"]
        assert torch.equal(sample["ref"], sample["lq"])
    never = _dataset(root, self_reference_prob=0.0)
    assert not any(bool(never[d]["self_ref"]) for d in range(30))
    sometimes = _dataset(root, self_reference_prob=0.3)
    rate = np.mean([bool(sometimes[d]["self_ref"]) for d in range(300)])
    assert 0.2 < rate < 0.4


def test_resume_gives_the_same_draws(root: Path) -> None:
    fresh = _dataset(root)
    used = _dataset(root)
    for draw in range(100):
        used[draw]
    for draw in range(100, 111):
        assert _same(fresh[draw], used[draw])


def test_dataloader_with_the_training_sampler_resumes_batch_for_batch(root: Path) -> None:
    ds = _dataset(root)
    batch = 4

    def batches(start_iteration: int, iterations: int, workers: int) -> list[dict[str, torch.Tensor]]:
        sampler = IterationDraws(start_iteration, start_iteration + iterations, batch)
        # Spawned, not forked: earlier tests leave OpenCV's pool threads in this process, and a worker forked
        # while one holds its lock hangs on its first OpenCV call (seen in CI). train() avoids it otherwise.
        context = "spawn" if workers else None
        loader = DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers, multiprocessing_context=context)
        return list(loader)

    whole = batches(0, 5, workers=0)
    resumed = batches(3, 2, workers=2)
    assert len(resumed) == 2
    for a, b in zip(whole[3:], resumed, strict=True):
        assert _same(a, b)


def test_without_cache_and_other_crop_sizes(root: Path, tmp_path: Path) -> None:
    assert _same(_dataset(root)[9], _dataset(root, cache=False)[9])
    big = tmp_path / "big"
    _make_dataset_folder(big, size=2 * SIZE)
    sample = _dataset(big)[0]
    assert sample["gt"].shape == (3, SIZE, SIZE)


def test_people_filter_and_pairing_report(root: Path) -> None:
    ds = _dataset(root, people={"Ann", "Bob"}, self_reference_prob=0.2)
    assert len(ds) == 4
    report = ds.pairing_report()
    assert report["pairs"] == 4 and report["synthetic"] == 1 and report["synthetic_fraction"] == 0.25
    assert report["people"] == 2 and report["people_with_2_or_more"] == 1
    assert report["expected_synthetic_draws"] == pytest.approx(0.8 * 0.25)
    full = _dataset(root).pairing_report()
    assert (full["real"], full["synthetic"]) == (3, 4)
    with pytest.raises(UserError):
        _dataset(root, people={"Nobody"})


def test_synthetic_reference_share(root: Path) -> None:
    always = _dataset(root, augment=False, self_reference_prob=0.0, synthetic_reference_prob=1.0)
    for draw in range(20):
        sample = always[draw]
        assert sample["synthetic_ref"]
        # Made from the ground truth, not another crop: no crop equals it.
        target = ((sample["ref"].permute(1, 2, 0).numpy() + 1.0) / 2.0).astype(np.float32)
        assert all(np.abs(always.crop(i) - target).max() > 1e-3 for i in range(len(always)))
    half = _dataset(root, self_reference_prob=0.0, synthetic_reference_prob=0.5)
    with_real = [d for d in range(400) if half.candidates[half.face_index(d)]]
    rate = np.mean([bool(half[d]["synthetic_ref"]) for d in with_real])
    assert 0.4 < rate < 0.6
    report = _dataset(root, self_reference_prob=0.2, synthetic_reference_prob=0.5).pairing_report()
    assert report["expected_synthetic_draws"] == pytest.approx(0.8 * (4 / 7 + 3 / 7 * 0.5))
    with pytest.raises(ValueError, match="synthetic_reference_prob"):
        _dataset(root, synthetic_reference_prob=1.5)
