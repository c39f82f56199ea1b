import cv2
import numpy as np
import pytest

from ented_desktop.core.face.align import (
    FFHQ_TEMPLATE_512,
    align_face,
    estimate_alignment,
    face_scale,
    invert_affine,
    template_for,
    warp_to_crop,
)


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(np.radians(angle_deg)) * scale, np.sin(np.radians(angle_deg)) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_template_for_scales_the_512_template():
    np.testing.assert_allclose(template_for(512), FFHQ_TEMPLATE_512)
    assert template_for(256)[0] == pytest.approx([96.49069, 119.97354])
    assert template_for(1024)[4] == pytest.approx([626.1781, 742.30236])
    assert template_for(128).dtype == np.float32
    with pytest.raises(ValueError):
        template_for(0)


def test_template_is_read_only():
    with pytest.raises(ValueError):
        FFHQ_TEMPLATE_512[0, 0] = 0.0


def test_estimate_alignment_recovers_a_known_similarity():
    expected = similarity(23.0, 0.37, 12.5, -30.25)  # image -> crop
    landmarks = apply(invert_affine(expected), template_for(256).astype(np.float64))
    np.testing.assert_allclose(estimate_alignment(landmarks, 256), expected, atol=1e-4)
    assert face_scale(expected) == pytest.approx(0.37)


def test_estimate_alignment_of_a_shifted_or_doubled_template():
    shifted = template_for(512) + np.array([10.0, 20.0], dtype=np.float32)
    np.testing.assert_allclose(estimate_alignment(shifted, 512), [[1, 0, -10], [0, 1, -20]], atol=1e-4)
    doubled = template_for(512) * 2
    np.testing.assert_allclose(estimate_alignment(doubled, 512), [[0.5, 0, 0], [0, 0.5, 0]], atol=1e-5)


def test_estimate_alignment_is_the_least_squares_similarity():
    rng = np.random.default_rng(0)
    landmarks = template_for(512) * 0.6 + 40 + rng.normal(0, 6, (5, 2))
    matrix = estimate_alignment(landmarks, 128)
    # the same fit as an ordinary linear least-squares problem in (a, b, tx, ty)
    x, y = landmarks[:, 0], landmarks[:, 1]
    ones, zeros = np.ones(5), np.zeros(5)
    design = np.concatenate([np.stack([x, -y, ones, zeros], 1), np.stack([y, x, zeros, ones], 1)])
    target = np.concatenate([template_for(128)[:, 0], template_for(128)[:, 1]])
    a, b, tx, ty = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(matrix, [[a, -b, tx], [b, a, ty]], atol=1e-6)


def test_estimate_alignment_rejects_degenerate_landmarks():
    with pytest.raises(ValueError):
        estimate_alignment(np.ones((5, 2)), 512)
    with pytest.raises(ValueError):
        estimate_alignment(np.ones((4, 2)), 512)


def test_invert_affine_round_trip():
    matrix = np.array([[1.3, 0.4, 7.0], [-0.2, 0.9, -3.0]])
    inverse = invert_affine(matrix)
    points = np.array([[0.0, 0.0], [100.0, 50.0], [-20.0, 300.0]])
    np.testing.assert_allclose(apply(inverse, apply(matrix, points)), points, atol=1e-9)
    np.testing.assert_allclose(invert_affine(inverse), matrix)
    with pytest.raises(ValueError):
        invert_affine(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]))


def ramp(height: int, width: int) -> np.ndarray:
    """A float32 image linear in x and y (bilinear and box filters reproduce it exactly)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([0.001 * x, 0.002 * y, 0.5 + 0.0005 * (x - y)], axis=2)


@pytest.mark.parametrize("scale", [2.5, 0.8, 0.13])
def test_warp_to_crop_samples_where_the_matrix_says(scale: float):
    image = ramp(3000, 4000)
    matrix = similarity(-17.0, scale, -1500.0 * scale + 40, -1200.0 * scale + 30)
    crop = warp_to_crop(image, matrix, 96)
    v, u = np.mgrid[0:96, 0:96].astype(np.float64)
    source = apply(invert_affine(matrix), np.stack([u.ravel(), v.ravel()], 1))
    expected = ramp(1, 1)[0, 0] + np.stack(
        [0.001 * source[:, 0], 0.002 * source[:, 1], 0.0005 * (source[:, 0] - source[:, 1])], 1
    )
    # the area prefilter moves content by at most a fraction of a source pixel
    assert np.abs(crop.reshape(-1, 3) - expected).max() < 0.002


def test_warp_to_crop_prefilters_when_shrinking():
    checker = ((np.indices((2000, 2000)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checker[..., None], 3, axis=2)
    matrix = similarity(5.0, 0.1, 0.0, 0.0)
    crop = warp_to_crop(image, matrix, 128)
    aliased = cv2.warpAffine(image, matrix, (128, 128), flags=cv2.INTER_LINEAR)
    assert aliased[8:-8, 8:-8].std() > 40  # the failure this guards against
    assert crop[8:-8, 8:-8].std() < 4
    assert crop[8:-8, 8:-8].mean() == pytest.approx(127.5, abs=3)


def test_warp_to_crop_mirrors_beyond_the_photo():
    image = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    crop = warp_to_crop(image, np.array([[1.0, 0, 5], [0, 1.0, 5]]), 20)  # crop (0, 0) is photo (-5, -5)
    assert crop.dtype == np.uint8
    assert np.array_equal(crop[0, 0], image[5, 5])
    assert np.array_equal(crop[5:, 5:], image[:15, :15])


def test_align_face_puts_landmarks_on_the_template():
    expected = similarity(-8.0, 1.7, -60.0, -35.0)
    landmarks = apply(invert_affine(expected), template_for(512).astype(np.float64)).astype(np.float32)
    image = np.zeros((400, 400, 3), np.uint8)
    for x, y in landmarks:
        cv2.circle(image, (round(x), round(y)), 4, (255, 255, 255), -1)
    crop, matrix = align_face(image, landmarks, 512)
    assert crop.shape == (512, 512, 3)
    np.testing.assert_allclose(apply(matrix, landmarks), template_for(512), atol=1e-3)
    for x, y in template_for(512):
        assert crop[round(y), round(x)].min() > 200  # the dots land on the template
