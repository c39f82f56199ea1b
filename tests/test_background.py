"""Background enlargement (core.background) and its ONNX export (core.engines.background_export).

Fast tests run a small Real-ESRGAN x2plus (one residual block of 16 features instead of 23 of 64: the upstream
file's key names and layout, ``{"params_ema": ...}``, with smaller tensors) so that they take seconds; the
full-size random-weight file of tests/upstream_files.py goes through import, export and enlarging in the slow test.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ented_desktop.core.background import (
    OnnxUpscaler,
    enlarged_around_faces,
    load_upscaler,
    make_background,
    restore_on_background,
    restore_with_background,
    scale_face,
    tile_spans,
    upscale_background,
)
from ented_desktop.core.engines.background_export import export_background_onnx
from ented_desktop.core.errors import ModelError, UserError
from ented_desktop.core.face.align import estimate_alignment, invert_affine, template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.pipeline import Cancelled, Restorer
from ented_desktop.core.weights import read_manifest
from tests.upstream_files import install_as_thirdparty, write_upstream_file

NAME = "realesrgan-x2plus"


def small_realesrgan_x2(path: Path, feat: int = 16, seed: int = 0) -> Path:
    """A one-block RRDBNet x2 in RealESRGAN_x2plus.pth's layout (basicsr key names under ``params_ema``).

    Its last layer is scaled so the output sits around mid-grey instead of saturating: the comparisons below then
    see the network's values, not the clipping."""
    g = torch.Generator().manual_seed(seed)
    grow = 32  # RRDBNet's growth channels (spandrel reads no other value)

    def conv(cin: int, cout: int, gain: float = 1.0, bias: float = 0.0) -> dict[str, torch.Tensor]:
        weight = torch.randn(cout, cin, 3, 3, generator=g) * (2.0 / (9 * cin)) ** 0.5 * gain
        return {"weight": weight, "bias": torch.full((cout,), bias)}

    parts = {"conv_first": conv(12, feat)}
    for r in (1, 2, 3):
        for k in range(1, 6):
            parts[f"body.0.rdb{r}.conv{k}"] = conv(feat + (k - 1) * grow, grow if k < 5 else feat, 0.1)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        parts[name] = conv(feat, feat)
    parts["conv_last"] = conv(feat, 3, 0.05, 0.5)
    state = {f"{name}.{p}": t.contiguous() for name, tensors in parts.items() for p, t in tensors.items()}
    torch.save({"params_ema": state}, path)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """On a machine shared by many processes, two torch threads spend more time waiting for each other than
    computing (measured 4x slower than one for these small tiles)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    install_as_thirdparty(small_realesrgan_x2(folder.parent / "RealESRGAN_x2plus.pth"), folder, NAME)
    return folder


@pytest.fixture(scope="module")
def onnx_export(model_dir: Path) -> Path:
    return export_background_onnx(model_dir / f"{NAME}.safetensors")


@pytest.fixture(scope="module")
def upscaler(model_dir: Path):
    return load_upscaler(NAME, "torch", "cpu", model_dir)


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with texture, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 7.0 + y / 11.0)], axis=2)
    return np.clip((base * 0.8 + 0.2 * rng.random((height, width, 3))) * 255, 0, 255).astype(np.uint8)


class NearestUpscaler:
    """Each pixel repeated 2 x 2: an upscaler whose output position is known exactly."""

    name, device, scale, model_name = "test", "cpu", 2, "nearest"

    def upscale(self, image: np.ndarray) -> np.ndarray:
        return image.repeat(2, axis=2).repeat(2, axis=3)


def test_tile_spans_cover_the_axis_with_overlap() -> None:
    assert tile_spans(10, 4, 2) == [(0, 4, 0, 6), (4, 8, 2, 10), (8, 10, 6, 10)]
    assert tile_spans(4, 8, 2) == [(0, 4, 0, 4)]


def test_tiles_meet_without_seams(upscaler) -> None:
    pixels = photo(71, 93)  # odd sides: the last tiles are padded
    whole = upscale_background(pixels, upscaler, "enlarge", tile=128).astype(int)
    tiled = upscale_background(pixels, upscaler, "enlarge", tile=32).astype(int)
    assert np.abs(tiled - whole).max() <= 1
    # Without context the seams show: the comparison above can fail.
    seams = upscale_background(pixels, upscaler, "enlarge", tile=32, overlap=0).astype(int)
    assert np.abs(seams - whole).max() >= 8


def test_sizes_and_dtypes_of_both_modes(upscaler) -> None:
    pixels = photo(40, 54)
    clean = upscale_background(pixels, upscaler, "clean", tile=32)
    enlarged = upscale_background(pixels, upscaler, "enlarge", tile=32)
    assert clean.shape == (40, 54, 3) and clean.dtype == np.uint8
    assert enlarged.shape == (80, 108, 3) and enlarged.dtype == np.uint8
    # "clean" is the enlargement averaged back over 2 x 2 blocks (before rounding, hence one grey level)
    averaged = cv2.resize(enlarged.astype(np.float32), (54, 40), interpolation=cv2.INTER_AREA)
    assert np.abs(clean - averaged).max() <= 1.0
    assert np.abs(clean.astype(int) - pixels).mean() > 5  # the model did change the photo
    sixteen = upscale_background(pixels.astype(np.uint16) * 257, upscaler, "clean", tile=32)
    assert sixteen.dtype == np.uint16 and np.abs(sixteen / 257.0 - clean).max() <= 1.0


def test_grayscale_stays_grayscale(upscaler) -> None:
    gray = np.repeat(photo(36, 36)[..., :1], 3, axis=2)
    out = upscale_background(gray, upscaler, "enlarge", grayscale=True)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    coloured = upscale_background(gray, upscaler, "enlarge")
    assert not np.array_equal(coloured[..., 0], coloured[..., 2])  # the network alone does tint grey


def test_onnx_export_has_parity_at_any_tile_size(model_dir: Path, onnx_export: Path, upscaler) -> None:
    assert onnx_export == model_dir / f"{NAME}.onnx" and read_manifest(model_dir).get(onnx_export.name)
    engine = load_upscaler(NAME, "onnx", "cpu", model_dir)
    assert isinstance(engine, OnnxUpscaler) and engine.scale == 2
    pixels = photo(50, 74)  # tiles of 42 x 42 ... 50 x 58 read pixels: sizes the graph was not traced at
    expected = upscale_background(pixels, upscaler, "enlarge", tile=26).astype(int)
    got = upscale_background(pixels, engine, "enlarge", tile=26).astype(int)
    assert got.shape == expected.shape and np.abs(got - expected).max() <= 1


def test_progress_and_cancel(upscaler) -> None:
    seen: list[tuple[int, int]] = []
    upscale_background(photo(20, 30), NearestUpscaler(), "clean", tile=16, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(Cancelled):
        upscale_background(photo(20, 30), upscaler, "clean", tile=16, aborted=lambda: True)


def test_refusals_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="RGB photos only"):
        upscale_background(np.zeros((8, 8, 4), np.uint8), NearestUpscaler(), "clean")
    with pytest.raises(UserError, match="clean or enlarge"):
        upscale_background(np.zeros((8, 8, 3), np.uint8), NearestUpscaler(), "bigger")
    with pytest.raises(ModelError, match="ented models download realesrgan-x2plus"):
        load_upscaler(NAME, "torch", "cpu", tmp_path)
    bare = tmp_path / "bare"
    install_as_thirdparty(small_realesrgan_x2(tmp_path / "x2.pth"), bare, NAME)  # no ONNX export
    with pytest.raises(ModelError, match="no ONNX export"):
        load_upscaler(NAME, "onnx", "cpu", bare)


# --- faces on top ----------------------------------------------------------------------------------------------


class WhiteFaces:
    """A face engine whose every restored face is white: where it was pasted is easy to see."""

    name, device, resolution, model_name, uses_reference, fidelity = "test", "cpu", 128, "white", False, None

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.ones_like(lq)


class OnTheOriginal:
    """A detector that finds ``faces``, and only in a photo of the original's shape."""

    name = "test"

    def __init__(self, shape: tuple[int, ...], faces: list[Face]) -> None:
        self.shape, self.faces = shape, faces

    def detect(self, rgb: np.ndarray) -> list[Face]:
        assert rgb.shape == self.shape, "faces are detected on the original photo"
        return self.faces


def face_at(cx: float, cy: float, size: float) -> Face:
    """A face whose FFHQ crop is ``size`` pixels wide, the template's centre at (cx, cy)."""
    t = template_for(512).astype(np.float64)
    landmarks = ((t - 255.5) * size / 512 + [cx, cy]).astype(np.float32)
    half = size / 2
    return Face(box=(cx - half, cy - half, cx + half, cy + half), landmarks=landmarks, score=1.0)


def white_centroid(image: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(image[..., 0] > 200)
    return np.array([xs.mean(), ys.mean()])


def test_faces_land_at_twice_their_coordinates_when_enlarged() -> None:
    pixels = np.full((120, 160, 3), 40, np.uint8)
    faces = [face_at(50.0, 60.0, 48), face_at(130.0, 40.0, 20)]  # the second is below MIN_FACE
    restorer = Restorer(WhiteFaces(), OnTheOriginal(pixels.shape, faces))
    clean = make_background(pixels, faces, NearestUpscaler(), "clean")
    at_1x = restore_on_background(restorer, pixels, faces, clean)
    at_2x = restore_with_background(restorer, pixels, NearestUpscaler(), "enlarge")
    assert at_2x.pixels.shape == (240, 320, 3)
    assert np.allclose(white_centroid(at_2x.pixels), white_centroid(at_1x.pixels) * 2 + 0.5, atol=0.3)
    assert np.allclose(white_centroid(at_2x.pixels), [100.5, 120.5], atol=0.5)
    first, small = at_2x.faces
    assert first.restored and first.box == (52.0, 72.0, 148.0, 168.0) and first.size == pytest.approx(96, abs=0.1)
    assert not small.restored and "too small" in small.reason and small.box == (240.0, 60.0, 280.0, 100.0)


def test_faces_are_cropped_from_the_original_not_the_background() -> None:
    pixels = photo(64, 80)
    faces = [face_at(40.0, 30.0, 40), face_at(12.0, 60.0, 30)]  # the second reaches over the photo's edge
    source = enlarged_around_faces(pixels, faces, 2)
    whole = cv2.resize(pixels, (160, 128), interpolation=cv2.INTER_CUBIC)
    written = source.any(axis=2)
    assert np.array_equal(source[written], whole[written])
    for face in faces:  # every pixel of the enlarged face's crop (its FFHQ square, upright here) was written
        to_photo = invert_affine(estimate_alignment(scale_face(face, 2).landmarks, 512))
        cx, cy = to_photo @ [255.5, 255.5, 1.0]
        half = face.size  # half the crop's side in the enlarged photo
        box = written[max(0, int(cy - half)): int(cy + half) + 1, max(0, int(cx - half)): int(cx + half) + 1]
        assert box.size and box.all()
    assert not written.all()  # away from the faces nothing was computed


@pytest.mark.slow
def test_upstream_file_imports_exports_and_enlarges(tmp_path: Path) -> None:
    from ented_desktop.core.models.importer import import_model

    upstream = write_upstream_file("realesrgan", tmp_path)
    model = import_model(upstream, name=NAME, purpose="background", model_dir=tmp_path / "models")
    assert (model.name, model.purpose, model.scale) == (NAME, "background", 2)
    export_background_onnx(model.path)
    pixels = photo(24, 30)
    on_torch = upscale_background(pixels, load_upscaler(NAME, "torch", "cpu", tmp_path / "models"), "enlarge")
    on_onnx = upscale_background(pixels, load_upscaler(NAME, "onnx", "cpu", tmp_path / "models"), "enlarge")
    assert on_torch.shape == (48, 60, 3) and np.abs(on_torch.astype(int) - on_onnx).max() <= 1
