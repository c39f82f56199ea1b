"""The face pipeline with stand-in engines: what it changes, what it leaves alone, and what it reports."""

import cv2
import numpy as np
import pytest

from ented_desktop.core.face.detect import Face, create_detector
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.pipeline import MIN_FACE, Restorer


class FakeEngine:
    """Applies ``fn`` to each aligned face; records what it was given."""

    name, device, model_name = "fake", "cpu", "fake"

    def __init__(self, fn, resolution=128):
        self.fn, self.resolution, self.calls = fn, resolution, []

    def restore(self, lq, ref):
        self.calls.append((lq.copy(), ref.copy()))
        return np.stack([self.fn(x) for x in lq]).astype(np.float32)


def blur(x):
    return cv2.GaussianBlur(x, (0, 0), 2.0)


@pytest.fixture(scope="module")
def detector():
    return create_detector("yuface")


@pytest.fixture
def portrait(shared_dir):
    return read_image_rgb8(shared_dir / "data/lfw/images_deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_pixels_outside_faces_are_unchanged(portrait, detector):
    restorer = Restorer(FakeEngine(lambda x: 1.0 - x), detector)
    result = restorer.restore(portrait)
    assert result.restored_count == 1 and result.pixels.shape == portrait.shape
    changed = np.any(result.pixels != portrait, axis=2)
    x0, y0, x1, y1 = result.faces[0].box
    size = result.faces[0].size
    ys, xs = np.nonzero(changed)
    # Everything that changed lies near the face (its aligned crop is about 2x the box).
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    assert np.all(np.hypot(xs - cx, ys - cy) < size)
    assert changed.sum() > 0.05 * changed.size
    assert result.faces[0].reference == "self" and "own reference" in result.faces[0].reason


def test_reference_reaches_the_engine_and_is_reported(portrait, detector):
    engine = FakeEngine(lambda x: x)
    ref = np.full((256, 256, 3), 200, np.uint8)
    result = Restorer(engine, detector).restore(portrait, references=[ref])
    lq, got_ref = engine.calls[0]
    assert got_ref.shape == (1, 128, 128, 3) and np.allclose(got_ref, 200 / 255, atol=1e-3)
    assert result.faces[0].reference == "person"


def test_grayscale_stays_grayscale(portrait, detector):
    gray = np.repeat(cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    tint = lambda x: np.clip(x * np.array([1.2, 0.9, 0.8], np.float32), 0, 1)  # noqa: E731 - a colour cast
    result = Restorer(FakeEngine(tint), detector).restore(gray, grayscale=True)
    assert result.restored_count == 1
    assert np.array_equal(result.pixels[..., 0], result.pixels[..., 1])
    assert np.array_equal(result.pixels[..., 1], result.pixels[..., 2])


def test_small_faces_are_left_alone_with_a_reason(portrait, detector):
    small = cv2.resize(portrait, (40, 40), interpolation=cv2.INTER_AREA)
    canvas = np.full((320, 320, 3), 128, np.uint8)
    canvas[140:180, 140:180] = small
    restorer = Restorer(FakeEngine(lambda x: 1.0 - x), detector)
    faces = restorer.detect(canvas)
    if not faces:
        pytest.skip("the detector does not see a face this small")
    result = restorer.restore(canvas, faces=faces)
    assert all(f.size < MIN_FACE for f in faces)
    assert result.restored_count == 0 and "too small" in result.faces[0].reason
    assert np.array_equal(result.pixels, canvas)


class StripesPerFace:
    """Restores the k-th face of a batch to grey stripes, vertical for k = 0 and horizontal for k = 1 (fine detail,
    so that even the large-face blend takes them), so that each paste can be told apart."""

    name, device, model_name, resolution = "fake", "cpu", "fake", 128

    def restore(self, lq, ref):
        ys, xs = np.mgrid[0:128, 0:128]
        stripes = [0.5 + 0.4 * (-1.0) ** (index // 2) for index in (xs, ys)]
        return np.stack([np.repeat(stripes[k][..., None], 3, axis=2) for k in range(len(lq))]).astype(np.float32)


@pytest.mark.parametrize("scale", [0.5, 4.0])  # faces smaller than the model, and larger (the detail blend)
def test_neighbouring_faces_do_not_paint_over_each_other(portrait, detector, scale):
    photo = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    (face,) = detector.detect(photo)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    pad = (x1 - x0) * 15 // 100
    tile = photo[:, x0 - pad : x1 + pad]  # two heads side by side, 0.3 face widths apart: their crops overlap
    canvas = np.ascontiguousarray(np.hstack([tile, tile]))
    left = Face((pad, y0, pad + x1 - x0, y1), face.landmarks - np.float32([x0 - pad, 0]), face.score)
    right = Face((tile.shape[1] + pad, y0, tile.shape[1] + pad + x1 - x0, y1),
                 left.landmarks + np.float32([tile.shape[1], 0]), face.score)
    assert (left.size < 128) == (scale < 1)
    restorer = Restorer(StripesPerFace(), detector)
    both = restorer.restore(canvas, faces=[left, right]).pixels
    alone = restorer.restore(canvas, faces=[left]).pixels
    for box in (left.box, right.box):
        bx0, bx1 = int(box[0]), int(box[2])
        assert np.abs(both[y0:y1, bx0:bx1].astype(int) - canvas[y0:y1, bx0:bx1]).mean() > 3  # restored
    lx0, lx1 = int(left.box[0]), int(left.box[2])
    assert np.array_equal(both[y0:y1, lx0:lx1], alone[y0:y1, lx0:lx1])  # the right face's paste left it alone


def test_a_sharp_large_face_is_not_degraded(portrait, detector):
    # The face is far larger than the 128 px model; even a model that only blurs must not soften it.
    large = cv2.resize(portrait, (1000, 1000), interpolation=cv2.INTER_CUBIC)
    large = cv2.addWeighted(large, 1.8, cv2.GaussianBlur(large, (0, 0), 3), -0.8, 0)  # sharp
    result = Restorer(FakeEngine(blur), detector).restore(large)
    assert result.faces[0].size > 128 and result.restored_count == 1
    assert "larger than the model's 128 px" in result.faces[0].reason  # says why little changed
    assert psnr(result.pixels, large) > 45


def test_uint16_photo_keeps_its_depth(portrait, detector):
    deep = portrait.astype(np.uint16) * 257
    result = Restorer(FakeEngine(lambda x: x), detector).restore(deep)
    assert result.pixels.dtype == np.uint16
    assert psnr((result.pixels // 257).astype(np.uint8), portrait) > 30


def test_restore_aligned_keeps_size_and_dtype():
    restorer = Restorer(FakeEngine(lambda x: 1.0 - x, resolution=32))
    crop = np.random.default_rng(0).integers(0, 255, (50, 50, 3), dtype=np.uint8)
    out = restorer.restore_aligned(crop, None)
    assert out.shape == crop.shape and out.dtype == np.uint8
    with pytest.raises(Exception, match="square"):
        restorer.restore_aligned(crop[:, :40], None)


class PerFace:
    """Applies ``fns[k]`` to the k-th face of each batch at 256 px (larger than these faces, so each
    restoration is pasted whole); records its inputs."""

    name, device, model_name, resolution = "fake", "cpu", "fake", 256

    def __init__(self, *fns):
        self.fns, self.inputs = fns, []

    def restore(self, lq, ref):
        self.inputs.append(lq.copy())
        return np.stack([self.fns[k](x) for k, x in enumerate(lq)]).astype(np.float32)


def test_passes_of_different_models_give_the_pixels_of_one_call(portrait, detector):
    (face,) = detector.detect(portrait)
    cx, apart = int(face.landmarks[:, 0].mean()), 90
    tile = portrait[:, cx - apart // 2 : cx - apart // 2 + apart]
    canvas = np.ascontiguousarray(np.hstack([tile, tile]))  # two heads 90 px apart, 160 px faces
    shift = np.float32([cx - apart // 2, 0])
    left = Face(tuple(np.subtract(face.box, [shift[0], 0, shift[0], 0])), face.landmarks - shift, face.score)
    right = Face(tuple(np.add(left.box, [apart, 0, apart, 0])), left.landmarks + np.float32([apart, 0]), face.score)
    white, same = (lambda x: np.ones_like(x)), (lambda x: x)
    one_engine = PerFace(white, same)  # each face with its own model, in one call
    one_call = Restorer(one_engine).restore(canvas, faces=[left, right])

    first_engine, second_engine = PerFace(white), PerFace(same)
    first = Restorer(first_engine).restore(canvas, faces=[left, right], only=[0])
    second = Restorer(second_engine).restore(canvas, faces=[left, right], only=[1], canvas=first.pixels)

    assert np.array_equal(second_engine.inputs[0][0], one_engine.inputs[0][1])  # the first pass's paste unseen
    assert np.array_equal(second.pixels, one_call.pixels)
    assert [f.index for f in first.faces] == [0] and [f.index for f in second.faces] == [1]
    assert np.array_equal(first.pixels[:, 2 * apart - 20 :], canvas[:, 2 * apart - 20 :])  # the right face untouched
