import cv2
import numpy as np
import pytest

from ented_desktop.core.face.align import template_for
from ented_desktop.core.library.references import (
    SHARP_ENOUGH,
    FaceMeasure,
    block_means,
    detail_sharpness,
    face_size_px,
    frontalness,
    gradient_energy,
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


def test_block_means_and_gradient_energy_by_hand():
    image = np.arange(20, dtype=np.float64).reshape(4, 5)
    # 2 x 2 tiles of rows 0-3, columns 0-3 (column 4 is past the last whole tile).
    np.testing.assert_array_equal(block_means(image, 2), [[3.0, 5.0], [13.0, 15.0]])
    # Horizontal neighbours differ by 2, vertical ones by 10: 4 + 100.
    assert gradient_energy(block_means(image, 2)) == pytest.approx(104.0)
    assert gradient_energy(np.ones((1, 5))) == 0.0


def step_edge() -> np.ndarray:
    image = np.zeros((32, 32), np.uint8)
    image[:, 16:] = 64
    return image


def test_detail_sharpness_of_a_step_edge_by_hand():
    # The 5 x 5 median keeps a straight step. 4 x 4 block means: 8 x 8, columns 0-3 at 0 and 4-7 at 64;
    # over the 6 x 6 interior the Laplacian is 64 in column 3, -64 in column 4, else 0: mean 0, variance
    # 2 * 64^2 / 6. 16 x 16 block means: [[0, 64], [0, 64]], gradient energy 64^2 + 0.
    # 100 * (8192 / 6) / 4096 = 33.33.
    assert detail_sharpness(step_edge()) == pytest.approx(100 / 3)
    rgb = np.repeat(step_edge()[..., None], 3, axis=2)
    assert detail_sharpness(rgb) == pytest.approx(100 / 3)


def test_grain_specks_do_not_count_as_detail():
    specked = step_edge()
    for y, x, value in ((5, 5, 255), (20, 25, 0), (9, 28, 200), (27, 3, 90)):
        specked[y, x] = value
    assert detail_sharpness(specked) == pytest.approx(100 / 3)  # the median removes them
    assert laplacian_variance(specked) > 8 * laplacian_variance(step_edge())  # they dominated before


def test_detail_sharpness_of_flat_and_tiny_images():
    assert detail_sharpness(np.full((64, 64, 3), 77, np.uint8)) == 0.0
    assert detail_sharpness(step_edge()[:20, :20]) == 0.0  # not 2 x 2 structure blocks


def soft_photo(seed: int) -> np.ndarray:
    """A 128 px grey photo of overlapping ellipses of 2-20 px radii, softened like a scanned print."""
    rng = np.random.default_rng(seed)
    image = np.full((128, 128), 128.0)
    for _ in range(40):
        centre = (int(rng.integers(0, 128)), int(rng.integers(0, 128)))
        axes = (int(rng.integers(2, 20)), int(rng.integers(2, 20)))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0, 255)), -1)
    return cv2.GaussianBlur(image, (0, 0), 0.7)


@pytest.mark.parametrize("seed", range(5))
def test_the_clean_photo_outranks_its_blurred_grainy_blocky_and_downscaled_copies(seed):
    photo = soft_photo(seed)

    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(a + 0.5, 0, 255).astype(np.uint8)

    _, jpeg = cv2.imencode(".jpg", u8(photo), [cv2.IMWRITE_JPEG_QUALITY, 15])
    grain = np.random.default_rng(seed).normal(0, 8, photo.shape)
    small = cv2.resize(u8(photo), (32, 32), interpolation=cv2.INTER_AREA)
    copies = {
        "clean": u8(photo),
        "blur": u8(cv2.GaussianBlur(photo, (0, 0), 2)),
        "grain": u8(cv2.GaussianBlur(photo, (0, 0), 1) + grain),
        "jpeg": cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE),
        "down4": cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC),
    }
    # Upscaled to the crop size, as align_face does with a 128 px face.
    crops = {name: cv2.resize(a, (256, 256), interpolation=cv2.INTER_LINEAR) for name, a in copies.items()}
    sharpness = {name: detail_sharpness(crop) for name, crop in crops.items()}
    assert max(sharpness, key=sharpness.get) == "clean"
    assert sharpness["clean"] >= SHARP_ENOUGH > max(sharpness["blur"], sharpness["down4"])
    # The pixel-level Laplacian preferred the grain.
    laplacian = {name: laplacian_variance(crop) for name, crop in crops.items()}
    assert max(laplacian, key=laplacian.get) == "grain"


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
    assert not only.blurry
    assert rank_candidates([]) == []


def test_blurry_faces_still_rank_and_say_so():
    below = SHARP_ENOUGH - 3
    ranked = rank_candidates(
        [
            FaceMeasure(1, sharpness=below, size_px=200.0, frontalness=1.0),
            FaceMeasure(2, sharpness=8.0, size_px=100.0, frontalness=1.0),
        ]
    )
    assert [c.face_id for c in ranked] == [1, 2]
    assert ranked[0].why == f"least blurry ({below:.0f}; every photo is blurry), largest (200 px), frontal"
    assert ranked[1].why == "blurry (8), 100 px, frontal"
    assert all(c.blurry for c in ranked)
    # One sharp photo: it is the sharpest, the other is only blurry.
    mixed = rank_candidates(
        [
            FaceMeasure(1, sharpness=30.0, size_px=100.0, frontalness=1.0),
            FaceMeasure(2, sharpness=8.0, size_px=200.0, frontalness=1.0),
        ]
    )
    assert [(c.why.split(",")[0], c.blurry) for c in mixed] == [("sharpest (30)", False), ("blurry (8)", True)]
    (alone,) = rank_candidates([FaceMeasure(3, sharpness=8.0, size_px=100.0, frontalness=1.0)])
    assert alone.why == "blurry (8), 100 px, frontal"
    assert alone.blurry
