import cv2
import numpy as np
import pytest

from ented_desktop.core.face.align import align_face, invert_affine, template_for
from ented_desktop.core.face.blend import detail_blend, feather_mask, paste_face, territory_mask


def smooth_photo(height: int, width: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth random colours in the middle of the range (so a small colour shift never saturates)."""
    noise = np.random.default_rng(seed).random((height // 16, width // 16, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    full = 255 if dtype == np.uint8 else 65535
    return np.clip((0.15 + 0.7 * smooth) * full, 0, full).round().astype(dtype)


def face_landmarks(scale: float, x: float, y: float, angle: float = 10.0) -> np.ndarray:
    c, s = np.cos(np.radians(angle)) * scale, np.sin(np.radians(angle)) * scale
    return (template_for(512) @ np.array([[c, s], [-s, c]]) + np.array([x, y])).astype(np.float32)


def warped_box(matrix: np.ndarray, size: int) -> tuple[int, int, int, int]:
    inverse = invert_affine(matrix)
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    return (
        int(np.floor(points[:, 0].min())) - 2,
        int(np.floor(points[:, 1].min())) - 2,
        int(np.ceil(points[:, 0].max())) + 2,
        int(np.ceil(points[:, 1].max())) + 2,
    )


def test_feather_mask_by_hand():
    mask = feather_mask(10, border=0.2)  # ramp width 2 pixels: ramp = 0, .5, 1, ..., 1, .5, 0
    assert mask.dtype == np.float32 and mask.shape == (10, 10)
    assert mask[0] == pytest.approx(np.zeros(10))
    assert mask[:, 9] == pytest.approx(np.zeros(10))
    assert mask[1, 1] == pytest.approx(0.25)
    assert mask[1, 5] == pytest.approx(0.5)
    assert mask[5, 5] == pytest.approx(1.0)
    assert mask[2:8, 2:8] == pytest.approx(np.ones((6, 6)))
    assert np.array_equal(mask, mask.T) and np.array_equal(mask, mask[::-1, ::-1])


def test_feather_mask_default_border_is_smooth():
    mask = feather_mask(512)
    assert mask[256, 256] == 1.0 and mask[0, 256] == 0.0
    ramp = mask[256, :52]  # width 51.2 pixels; smoothstep(1/51.2) = 0.00113
    assert ramp[1] == pytest.approx(3 / 51.2**2 - 2 / 51.2**3, rel=1e-4)
    assert np.all(np.diff(ramp) >= 0) and np.abs(np.diff(ramp)).max() < 1.5 / 51.2 + 1e-6


@pytest.mark.parametrize("border", [0.0, -0.1, 0.6])
def test_feather_mask_rejects_bad_borders(border: float):
    with pytest.raises(ValueError):
        feather_mask(64, border)


def test_territory_mask_by_hand():
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    centers = np.array([[2.0, 5.0], [8.0, 5.0]])
    # Along y = 5, at x: distances |x - 2| / 10 and |x - 8| / 10; weight (d1 - d0) / 0.1 + 0.5, clipped.
    row = territory_mask(11, identity, centers, np.array([10.0, 10.0]), own=0)[5]
    np.testing.assert_allclose(row[3:8], [1.0, 1.0, 0.5, 0.0, 0.0])
    # A face twice the size owns twice the distance: at x = 4, 0.2 = 4 / 20, the middle.
    row = territory_mask(11, identity, centers, np.array([10.0, 20.0]), own=0)[5]
    np.testing.assert_allclose(row[3:6], [1.0, 0.5, 0.0], atol=1e-6)
    # The mask lives in crop space: in a crop at twice the photo's scale the midpoint, photo x = 5, is crop x = 10.
    zoom = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    row = territory_mask(21, zoom, centers, np.array([10.0, 10.0]), own=1)[10]
    assert row[10] == 0.5 and row[8] == 0.0 and row[12] == 1.0
    assert np.array_equal(territory_mask(4, identity, centers[:1], np.array([10.0]), own=0), np.ones((4, 4)))


def test_paste_of_an_unchanged_crop_restores_the_photo_and_touches_only_the_box():
    photo = smooth_photo(600, 800)
    before = photo.copy()
    crop, matrix = align_face(photo, face_landmarks(0.45, 300, 150), 256)
    out = paste_face(photo, crop, matrix)
    assert np.array_equal(photo, before)  # never modified
    assert out.dtype == np.uint8 and out.shape == photo.shape
    x0, y0, x1, y1 = warped_box(matrix, 256)
    outside = np.ones(photo.shape[:2], bool)
    outside[max(y0, 0) : y1, max(x0, 0) : x1] = False
    assert np.array_equal(out[outside], photo[outside])
    inside = np.zeros(photo.shape[:2], bool)
    alpha = cv2.warpAffine(feather_mask(256), invert_affine(matrix), (800, 600))
    inside[alpha > 0.99] = True
    assert inside.sum() > 5000
    error = np.abs(out.astype(int) - photo.astype(int))[inside]
    assert error.mean() < 1.0 and error.max() <= 4


def test_paste_face_on_uint16_with_a_float_crop():
    photo = smooth_photo(300, 400, np.uint16)
    landmarks = face_landmarks(0.3, 120, 60)
    _, matrix = align_face(photo, landmarks, 128)
    out = paste_face(photo, np.full((128, 128, 3), 0.5, np.float32), matrix)
    assert out.dtype == np.uint16
    centre = np.round(np.mean(landmarks, axis=0)).astype(int)
    assert out[centre[1], centre[0]] == pytest.approx([32768] * 3, abs=1)
    changed = np.any(out != photo, axis=2)
    x0, y0, x1, y1 = warped_box(matrix, 128)
    ys, xs = np.nonzero(changed)
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


def test_paste_face_accepts_a_crop_in_the_photo_dtype():
    photo = smooth_photo(200, 200)
    crop, matrix = align_face(photo, face_landmarks(0.25, 40, 30, angle=0.0), 128)
    as_float = paste_face(photo, crop.astype(np.float32) / 255, matrix)
    assert np.abs(paste_face(photo, crop, matrix).astype(int) - as_float.astype(int)).max() <= 1
    with pytest.raises(ValueError):
        paste_face(photo, crop.astype(np.uint16), matrix)


def test_paste_face_outside_the_photo_changes_nothing():
    photo = smooth_photo(100, 100)
    _, matrix = align_face(photo, face_landmarks(0.2, 500, 500), 64)
    out = paste_face(photo, np.zeros((64, 64, 3), np.float32), matrix)
    assert np.array_equal(out, photo) and out is not photo


def test_pasting_a_recoloured_crop_leaves_no_seam():
    photo = smooth_photo(600, 800)
    crop, matrix = align_face(photo, face_landmarks(0.8, 150, 50), 512)
    shifted = np.clip(crop.astype(np.float32) / 255 + np.array([12 / 255, 0, 0], np.float32), 0, 1)
    out = paste_face(photo, shifted, matrix)
    difference = out.astype(np.int32) - photo.astype(np.int32)
    assert difference[..., 0].max() >= 11  # the shift did get pasted
    # a hard paste would jump by 12 between neighbours; the feathered one ramps over ~40 pixels
    assert np.abs(np.diff(difference, axis=0)).max() <= 2
    assert np.abs(np.diff(difference, axis=1)).max() <= 2


def texture(seed: int = 0, sigma: float = 1.0) -> np.ndarray:
    noise = np.random.default_rng(seed).random((160, 160, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), sigma) * 2 - 0.5, 0, 1)


def high_energy(image: np.ndarray, sigma: float) -> float:
    return float(np.mean((image - cv2.GaussianBlur(image, (0, 0), sigma)) ** 2))


def test_detail_blend_keeps_a_sharp_original():
    sharp = texture()
    blurred_restoration = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    out = detail_blend(sharp, blurred_restoration, sigma=2.0)
    assert out.dtype == np.float32
    assert np.abs(out - sharp).mean() < 0.002 and np.abs(out - sharp).max() < 0.03


def test_detail_blend_gives_a_blurry_original_the_restorations_detail():
    sharp = texture()
    blurry = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    out = detail_blend(blurry, sharp, sigma=2.0)
    assert high_energy(blurry, 2.0) < 0.1 * high_energy(sharp, 2.0)
    # the missing amplitude is added; both bands share structure here, so energy nearly returns
    assert high_energy(out, 2.0) > 0.6 * high_energy(sharp, 2.0)
    assert np.abs(out - sharp).mean() < 0.6 * np.abs(blurry - sharp).mean()


def test_detail_blend_never_takes_the_restorations_low_band():
    original = texture(seed=1)
    recoloured = np.clip(original + 0.1, 0, 1)  # same detail (where unclipped), different colour
    out = detail_blend(original, recoloured, sigma=2.0)
    assert np.abs(out - original).mean() < 0.003


def test_detail_blend_rejects_bad_input():
    crop = texture()
    with pytest.raises(ValueError):
        detail_blend(crop, crop, sigma=0.0)
    with pytest.raises(ValueError):
        detail_blend((crop * 255).astype(np.uint8), crop, sigma=1.0)
    with pytest.raises(ValueError):
        detail_blend(crop, crop[:10], sigma=1.0)
