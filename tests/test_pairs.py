from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ented_desktop.core.errors import UserError
from training.pairs import (
    Pair,
    augment_reference,
    build_pairs,
    load_people_list,
    pairing_report,
    reference_candidates,
    synthetic_reference,
)

LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw"


@dataclass(frozen=True)
class Crop:
    person: str | None
    source: str


# Ann: 3 photos; Bob: 1 photo; Cid: two faces from one photo (no other photo); one unlabelled face.
HAND = [
    Crop("Ann", "Ann/1.jpg"),
    Crop("Bob", "Bob/1.jpg"),
    Crop("Ann", "Ann/2.jpg"),
    Crop("Cid", "Cid/1.jpg"),
    Crop("Cid", "Cid/1.jpg"),
    Crop(None, "group.jpg"),
    Crop("Ann", "Ann/3.jpg"),
]


def test_candidates_on_hand_made_list() -> None:
    assert reference_candidates(HAND) == [(2, 6), (), (0, 6), (), (), (), (0, 2)]


def test_report_on_hand_made_list() -> None:
    pairs = build_pairs(HAND, np.random.default_rng(0))
    assert [p.ref is None for p in pairs] == [False, True, False, True, True, True, False]
    assert pairing_report(pairs) == {"pairs": 7, "real": 3, "synthetic": 4, "synthetic_fraction": 4 / 7}
    assert pairing_report([]) == {"pairs": 0, "real": 0, "synthetic": 0, "synthetic_fraction": 0.0}
    assert pairing_report([Pair(0, 1), Pair(1, 0)])["synthetic_fraction"] == 0.0


def test_pairing_stays_within_a_person_and_across_photos() -> None:
    gen = np.random.default_rng(123)
    entries = []
    for _ in range(300):
        person = f"P{int(gen.integers(40))}" if gen.random() < 0.9 else None
        photo = int(gen.integers(6))
        entries.append(Crop(person, f"{person}/{photo}.jpg"))
    photos_per_person: dict[str, set[str]] = {}
    for e in entries:
        if e.person is not None:
            photos_per_person.setdefault(e.person, set()).add(e.source)
    for seed in range(20):
        for pair in build_pairs(entries, np.random.default_rng(seed)):
            gt = entries[pair.gt]
            if pair.ref is None:
                assert gt.person is None or len(photos_per_person[gt.person]) == 1
            else:
                ref = entries[pair.ref]
                assert ref.person == gt.person is not None
                assert ref.source != gt.source
                assert pair.ref != pair.gt


def test_real_references_vary_with_the_generator() -> None:
    refs = {build_pairs(HAND, np.random.default_rng(seed))[0].ref for seed in range(30)}
    assert refs == {2, 6}


def _face(size: int = 64) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.5 + 0.3 * np.sin(7 * xs), 0.4 + 0.3 * np.cos(5 * ys), 0.3 + 0.2 * xs * ys], axis=-1)
    return img.astype(np.float32)


def test_synthetic_reference_is_deterministic_and_different() -> None:
    gt = _face()
    a = synthetic_reference(gt, np.random.default_rng(5))
    b = synthetic_reference(gt, np.random.default_rng(5))
    c = synthetic_reference(gt, np.random.default_rng(6))
    assert a.shape == gt.shape and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01
    assert np.abs(a - gt).mean() > 0.01
    assert np.abs(a - gt[:, ::-1]).mean() > 0.01


def test_synthetic_reference_rejects_uint8() -> None:
    with pytest.raises(ValueError):
        synthetic_reference((_face() * 255).astype(np.uint8), np.random.default_rng(0))


def test_augment_reference_is_light() -> None:
    ref = _face()
    for seed in range(10):
        out = augment_reference(ref, np.random.default_rng(seed))
        assert out.shape == ref.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        # Mirror or not, the picture is a nearly unchanged copy: colour within +-8 %, shift of a pixel or so.
        best = min(np.abs(out - ref).mean(), np.abs(out - ref[:, ::-1]).mean())
        assert best < 0.06
        assert 0.92 < out.mean() / ref.mean() < 1.08
    np.testing.assert_array_equal(
        augment_reference(ref, np.random.default_rng(3)), augment_reference(ref, np.random.default_rng(3))
    )


def test_load_people_list(tmp_path: Path) -> None:
    path = tmp_path / "people.txt"
    path.write_text("3\nAJ_Cook\t1\nAaron_Eckhart\t1\nGeorge_W_Bush\t530\n")
    assert load_people_list(path) == {"AJ_Cook", "Aaron_Eckhart", "George_W_Bush"}
    path.write_text("2\n2\nA\t1\nB\t2\n1\nC\t4\n")  # people.txt: number of sets, then count + names per set
    assert load_people_list(path) == {"A", "B", "C"}


@pytest.mark.parametrize("text", ["3\nA\t1\nB\t1\n", "2\nA 1\nB has 2\n", "A\t1\n"])
def test_load_people_list_rejects_bad_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "people.txt"
    path.write_text(text)
    with pytest.raises(UserError):
        load_people_list(path)
    with pytest.raises(UserError):
        load_people_list(tmp_path / "missing.txt")


@pytest.mark.skipif(not LFW.is_dir(), reason="../shared/data/lfw is not present")
def test_lfw_dev_splits_are_disjoint() -> None:
    train = load_people_list(LFW / "peopleDevTrain.txt")
    test = load_people_list(LFW / "peopleDevTest.txt")
    assert (len(train), len(test)) == (4038, 1711)
    assert not train & test
