import numpy as np
import pytest

from ented_desktop.core.face.align import template_for
from ented_desktop.core.library.references import (
    FaceMeasure,
    face_size_px,
    frontalness,
    laplacian_variance,
    pose_words,
    rank_candidates,
    yaw_ratio,
)


def test_laplacian_variance_by_hand():
    image = np.zeros((3, 4), dtype=np.uint8)
    image[1, 1] = 9
    # Interior pixels (1, 1) and (1, 2): L = -36 and 9; mean -13.5; variance 22.5^2.
    assert laplacian_variance(image) == pytest.approx(506.25)


def test_laplacian_variance_of_equal_rgb_channels_is_that_of_gray():
    gray = np.random.default_rng(0).integers(0, 256, (20, 30)).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert laplacian_variance(rgb) == pytest.approx(laplacian_variance(gray))


def test_laplacian_variance_flat_and_tiny():
    assert laplacian_variance(np.full((10, 10, 3), 77, np.uint8)) == 0.0
    assert laplacian_variance(np.zeros((2, 9), np.uint8)) == 0.0


def test_blur_lowers_sharpness():
    checker = (np.indices((64, 64)).sum(axis=0) // 4 % 2 * 255).astype(np.float64)
    blurred = checker.copy()
    for _ in range(3):  # 3 passes of a 3-tap box blur along both axes
        blurred[1:-1] = (blurred[:-2] + blurred[1:-1] + blurred[2:]) / 3
        blurred[:, 1:-1] = (blurred[:, :-2] + blurred[:, 1:-1] + blurred[:, 2:]) / 3
    assert laplacian_variance(blurred) < laplacian_variance(checker) / 4


def test_face_size_of_the_template_is_the_crop_size():
    assert face_size_px(template_for(512)) == pytest.approx(512.0, rel=1e-5)
    assert face_size_px(template_for(220)) == pytest.approx(220.0, rel=1e-5)
    # Shifted and rotated by 90 degrees: same size.
    turned = template_for(300)[:, ::-1] * np.array([1, -1], np.float32) + 1000
    assert face_size_px(turned) == pytest.approx(300.0, rel=1e-5)


def face(nose_x: float, angle_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    points = np.array([[0, 0], [10, 0], [nose_x, 6], [2, 10], [8, 10]], np.float64) * scale
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points @ rotation.T + 50).astype(np.float32)


def test_yaw_ratio_by_hand():
    assert yaw_ratio(face(5)) == pytest.approx(0.0)
    assert yaw_ratio(face(8)) == pytest.approx(0.3)  # 3 px off the midline, eyes 10 px apart
    assert yaw_ratio(face(2)) == pytest.approx(0.3)
    # Neither in-plane rotation nor scale matters.
    assert yaw_ratio(face(8, angle_deg=90, scale=7)) == pytest.approx(0.3, abs=1e-5)


def test_frontalness_and_words():
    assert frontalness(face(5)) == pytest.approx(1.0)
    assert frontalness(face(8)) == pytest.approx(0.5)  # 0.3 of the 0.6 that counts as a profile
    assert frontalness(face(20)) == 0.0
    assert pose_words(frontalness(face(5))) == "frontal"
    assert pose_words(frontalness(face(6))) == "nearly frontal"
    assert pose_words(frontalness(face(7.5))) == "slightly turned"
    assert pose_words(frontalness(face(9))) == "turned away"


def test_eyes_on_one_spot_count_as_turned_away():
    points = np.array([[5, 5], [5, 5], [6, 9], [3, 12], [7, 12]], np.float32)
    assert frontalness(points) == 0.0


def test_rank_prefers_sharp_large_frontal_and_explains():
    measures = [
        FaceMeasure(1, sharpness=100.0, size_px=100.0, frontalness=0.6),
        FaceMeasure(2, sharpness=312.4, size_px=220.0, frontalness=0.85),
        FaceMeasure(3, sharpness=250.0, size_px=150.0, frontalness=1.0),
    ]
    ranked = rank_candidates(measures)
    assert [c.face_id for c in ranked] == [2, 3, 1]
    assert ranked[0].why == "sharpest (312), largest (220 px), nearly frontal"
    assert ranked[1].why == "sharpness 250, 150 px, frontal"
    # 0.4 * 250/312.4 + 0.3 * 150/220 + 0.3 * 1
    assert ranked[1].score == pytest.approx(0.4 * 250 / 312.4 + 0.3 * 150 / 220 + 0.3)


def test_size_beyond_the_model_input_earns_nothing():
    ranked = rank_candidates(
        [
            FaceMeasure(1, sharpness=100.0, size_px=2000.0, frontalness=1.0),
            FaceMeasure(2, sharpness=100.0, size_px=512.0, frontalness=1.0),
        ]
    )
    assert ranked[0].score == pytest.approx(ranked[1].score)
    assert ranked[0].why.startswith("sharpest (100), largest (2000 px)")


def test_single_candidate_and_none():
    (only,) = rank_candidates([FaceMeasure(7, sharpness=42.0, size_px=64.0, frontalness=0.0)])
    assert only.why == "sharpness 42, 64 px, turned away"
    assert rank_candidates([]) == []
