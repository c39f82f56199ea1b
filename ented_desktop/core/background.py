"""The whole photo behind the faces, cleaned or enlarged 2x by an installed upscaler (Real-ESRGAN x2plus).

Two modes (:data:`MODES`):

- ``"clean"``: the photo is enlarged by the model, then brought back to its own size by averaging each 2 x 2
  block (area averaging), so the output has the input's size with the model's cleaner texture.
- ``"enlarge"``: the output is twice the input's width and height.

Rules the user can rely on:

- Memory is bounded: the photo is enlarged in tiles (:data:`TILE` photo pixels a side, each read with
  :data:`OVERLAP` pixels of context that are cut away again, so tiles meet without seams), and each tile's
  result goes straight into the output array in the photo's own dtype. No float copy of the whole result exists.
- Grayscale photos stay grayscale (the result is converted to luma, as restored faces are); 16-bit photos stay
  16-bit. Transparency never reaches this module: :mod:`ented_desktop.core.imageio` composites it on white.
- Faces are pasted on top afterwards, restored from the ORIGINAL pixels (never from the upscaler's output) with
  the pipeline's usual rules (:func:`restore_on_background`).

Coordinates: pixel ``(x, y)`` of the photo (integer coordinates at pixel centres, as everywhere in the app) is
the centre of the 2 x 2 block ``(2x, 2y) .. (2x + 1, 2y + 1)`` of the enlarged photo, i.e. ``2x + 0.5``.
So in ``"enlarge"`` mode a face's landmarks become ``2 * landmarks + 0.5`` and its box (pixel edges, clipped to
``[0, width]``) becomes ``2 * box`` (:func:`scale_face`); in ``"clean"`` mode nothing moves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from .archs import ArchInfo, UpscaleNet, build_module, detect_architecture
from .errors import ModelError, UserError
from .face.align import estimate_alignment, invert_affine
from .face.detect import Face
from .imageio import from_float01, to_float01
from .pipeline import MIN_FACE, Cancelled, PhotoResult, Restorer, to_gray_rgb

MODES = ("clean", "enlarge")
OUTPUT_SCALE = {"clean": 1, "enlarge": 2}   # output size / photo size
DEFAULT_MODEL = "realesrgan-x2plus"         # the catalogue's background model
TILE = 256        # photo pixels per tile side on a CPU: x2plus's activations for one tile take about 0.5 GB
GPU_TILE = 512    # larger tiles waste less on overlap where memory allows
# Context read around each tile and cut away again. Real-ESRGAN's own script uses 10 px; 16 keeps the seams below
# one grey level in the tests' comparisons with the whole photo enlarged at once.
OVERLAP = 16
PAD_MULTIPLE = 2  # x2plus unshuffles 2 x 2 pixel blocks: tiles are fed with even sides


class Upscaler(Protocol):
    name: str             # "torch" or "onnx"
    device: str
    scale: int            # output size / input size of the network
    model_name: str

    def upscale(self, image: np.ndarray) -> np.ndarray:
        """1 x 3 x h x w float32 in [0, 1] (h, w even) -> 1 x 3 x (scale h) x (scale w) float32 (unclipped)."""
        ...


# --- loading --------------------------------------------------------------------------------------------------


def load_background_module(weights: Path) -> tuple[UpscaleNet, ArchInfo]:
    """The upscaler stored in a third-party ``.safetensors`` file (not re-checked against the manifest)."""
    from safetensors.torch import load_file

    from .engines.thirdparty import FORMAT
    from .weights import read_metadata

    weights = Path(weights)
    meta = read_metadata(weights)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{weights.name} is not a model file stored by `ented models` (no {FORMAT} metadata).")
    state = load_file(str(weights))
    info = detect_architecture(state)
    if info.purpose != "background":
        raise ModelError(f"{weights.name} is {info.display}, a face restorer, not a background upscaler.")
    if meta.get("architecture") != info.architecture:
        raise ModelError(f"{weights.name} says it is {meta.get('architecture')!r} but holds {info.display} weights.")
    return build_module(state, info), info


def check_scale(scale: int, name: str) -> None:
    """Both modes need a network that enlarges by a multiple of 2 (2x, or 4x averaged down)."""
    if scale < 2 or scale % 2:
        raise ModelError(f"{name} enlarges {scale}x; the background needs a 2x model such as {DEFAULT_MODEL} "
                         f"(`ented models download {DEFAULT_MODEL}`).")


class TorchUpscaler:
    name = "torch"

    def __init__(self, module: UpscaleNet, model_name: str, device: str = "auto") -> None:
        from .engines.torch_engine import pick_torch_device

        self.torch_device = pick_torch_device(device)
        self.device = str(self.torch_device)
        self.model = module.to(self.torch_device).eval()
        self.scale = int(module.scale)
        self.model_name = model_name

    @torch.inference_mode()
    def upscale(self, image: np.ndarray) -> np.ndarray:
        try:
            return self.model(torch.from_numpy(image).to(self.torch_device)).float().cpu().numpy()
        except torch.OutOfMemoryError as exc:
            raise MemoryError(f"{self.device} ran out of memory enlarging a {image.shape[3]} x {image.shape[2]} "
                              "tile") from exc


class OnnxUpscaler:
    name = "onnx"

    def __init__(self, path: Path, device: str = "auto", weights_sha256: str | None = None) -> None:
        """An export made by :func:`ented_desktop.core.engines.background_export.export_background_onnx`; with
        ``weights_sha256``, it must have been made from the weights file of that digest."""
        from .engines.ort_session import open_session, session_device
        from .engines.thirdparty import FORMAT

        path = Path(path)
        self.session = open_session(path, device)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != FORMAT or meta.get("purpose") != "background":
            raise ModelError(f"{path.name} is not an export of a background upscaler.")
        if weights_sha256 is not None and meta.get("weights_sha256") != weights_sha256:
            raise ModelError(f"{path.name} was not exported from the weights beside it; import the model again.")
        self.scale = int(meta["scale"])
        self.model_name = meta.get("model_name", path.stem)
        self.device = session_device(self.session)

    def upscale(self, image: np.ndarray) -> np.ndarray:
        return self.session.run(["upscaled"], {"image": image})[0]


def load_upscaler(name: str = DEFAULT_MODEL, engine: str = "torch", device: str = "auto",
                  model_dir: str | os.PathLike[str] | None = None) -> Upscaler:
    """The installed background model ``name`` on ``engine`` ("torch" or "onnx"), its files checked against the
    manifest. ModelError when it is not installed, not a background model, damaged, or not 2x."""
    from .engines.thirdparty import verify_listed
    from .models.store import find_installed

    model = find_installed(name, model_dir, verify=False)
    if model is None:
        raise ModelError(f"No background model called {name!r} is installed; `ented models download "
                         f"{DEFAULT_MODEL}` installs one (or `ented models import FILE` a file downloaded elsewhere).")
    if model.purpose != "background":
        raise ModelError(f"{name} is a face restorer, not a background upscaler; the background needs "
                         f"{DEFAULT_MODEL}.")
    check_scale(model.scale, name)
    digest = verify_listed(model.path)
    if engine == "torch":
        module, _ = load_background_module(model.path)
        return TorchUpscaler(module, name, device)
    if engine == "onnx":
        onnx = model.path.with_suffix(".onnx")
        if not onnx.is_file():
            raise ModelError(f"{name} has no ONNX export; import it again to make one, or use --engine torch.")
        verify_listed(onnx)
        return OnnxUpscaler(onnx, device, weights_sha256=digest)
    raise UserError(f"Unknown engine {engine!r}; choose torch or onnx.")


# --- tiling ---------------------------------------------------------------------------------------------------


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Along one axis of ``length`` pixels: ``(start, end, read_start, read_end)`` of each tile, where
    ``[start, end)`` tile the axis and ``[read_start, read_end)`` adds up to ``overlap`` pixels of context."""
    if tile <= 0 or overlap < 0:
        raise ValueError(f"tile must be positive and overlap non-negative, got {tile} and {overlap}")
    return [(s, min(s + tile, length), max(0, s - overlap), min(length, s + tile + overlap))
            for s in range(0, length, tile)]


def _check_photo(pixels: np.ndarray) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise UserError(f"The background can be enlarged for RGB photos only; this image has shape {pixels.shape} "
                        "(photos read by ENTED Desktop always are RGB: transparency is composited on white).")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise UserError(f"The background can be enlarged for 8- or 16-bit photos only, not {pixels.dtype}.")
    if min(pixels.shape[:2]) < 1:
        raise UserError("The photo is empty.")


def upscale_background(
    pixels: np.ndarray,
    upscaler: Upscaler,
    mode: str,
    *,
    grayscale: bool = False,
    tile: int | None = None,
    overlap: int = OVERLAP,
    progress: Callable[[int, int], None] | None = None,
    aborted: Callable[[], bool] | None = None,
) -> np.ndarray:
    """``pixels`` (H x W x 3 uint8/uint16) enlarged by ``upscaler`` in tiles: H x W x 3 in ``"clean"`` mode,
    2H x 2W x 3 in ``"enlarge"`` mode, same dtype. ``tile``: photo pixels per tile side (:data:`TILE` on a CPU,
    :data:`GPU_TILE` on a GPU); ``progress(done, total)`` after each tile; raises core.pipeline.Cancelled when
    ``aborted()`` turns True (checked before each tile)."""
    if mode not in MODES:
        raise UserError(f"Unknown background mode {mode!r}; choose {' or '.join(MODES)}.")
    _check_photo(pixels)
    check_scale(upscaler.scale, upscaler.model_name)
    scale, target = upscaler.scale, OUTPUT_SCALE[mode]
    tile = tile or (TILE if upscaler.device == "cpu" else GPU_TILE)
    if tile % PAD_MULTIPLE or overlap % PAD_MULTIPLE:
        raise ValueError(f"tile and overlap must be multiples of {PAD_MULTIPLE}, got {tile} and {overlap}")
    height, width = pixels.shape[:2]
    out = np.empty((height * target, width * target, 3), pixels.dtype)
    rows, cols = tile_spans(height, tile, overlap), tile_spans(width, tile, overlap)
    total, done = len(rows) * len(cols), 0
    for y0, y1, ry0, ry1 in rows:
        for x0, x1, rx0, rx1 in cols:
            if aborted is not None and aborted():
                raise Cancelled()
            part = _upscale_tile(pixels[ry0:ry1, rx0:rx1], upscaler)
            core = part[(y0 - ry0) * scale : (y1 - ry0) * scale, (x0 - rx0) * scale : (x1 - rx0) * scale]
            np.clip(core, 0.0, 1.0, out=core)
            if scale != target:  # block averages: the same whether taken per tile or over the whole photo
                core = cv2.resize(core, ((x1 - x0) * target, (y1 - y0) * target), interpolation=cv2.INTER_AREA)
            if grayscale:
                core = to_gray_rgb(core)
            out[y0 * target : y1 * target, x0 * target : x1 * target] = from_float01(core, pixels.dtype)
            done += 1
            if progress is not None:
                progress(done, total)
    return out


def _upscale_tile(region: np.ndarray, upscaler: Upscaler) -> np.ndarray:
    """One tile, padded at its bottom and right edges to even sides: (scale h) x (scale w) x 3 float32."""
    h, w = region.shape[:2]
    pad_h, pad_w = -h % PAD_MULTIPLE, -w % PAD_MULTIPLE
    x = to_float01(region)
    if pad_h or pad_w:  # only at the photo's edges; the padding's output is cut away below
        x = np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    y = upscaler.upscale(np.ascontiguousarray(x.transpose(2, 0, 1))[None])
    s = upscaler.scale
    return np.ascontiguousarray(y[0, :, : h * s, : w * s].transpose(1, 2, 0))


# --- faces on top ---------------------------------------------------------------------------------------------


def scale_face(face: Face, factor: int) -> Face:
    """``face`` in the coordinates of the photo enlarged ``factor`` times: landmarks (pixel centres) become
    ``factor * p + (factor - 1) / 2``, the box (pixel edges) ``factor * box``."""
    landmarks = (face.landmarks.astype(np.float64) * factor + (factor - 1) / 2).astype(np.float32)
    landmarks.flags.writeable = False
    box = tuple(float(v) * factor for v in face.box)
    return Face(box=box, landmarks=landmarks, score=face.score)  # type: ignore[arg-type]


def enlarged_around_faces(pixels: np.ndarray, faces: Sequence[Face], factor: int) -> np.ndarray:
    """``pixels`` enlarged ``factor`` times (bicubic, as cv2.resize) where the restorer reads faces of the
    enlarged photo (:func:`scale_face`), zeros elsewhere: the face restorer then works from the original pixels
    at the canvas's coordinates. The zeros are never written, so away from faces no memory is touched."""
    height, width = pixels.shape[:2]
    out = np.zeros((height * factor, width * factor, 3), pixels.dtype)
    margin = 3  # original pixels: bicubic taps (2) plus one
    n = 512
    # The pixel edges of the FFHQ square (every crop the pipeline takes of a face, at any size), widened by 4
    # canvas pixels for the bilinear taps and the box prefilter of align.warp_to_crop.
    corners = np.array([[-0.5, -0.5], [n - 0.5, -0.5], [-0.5, n - 0.5], [n - 0.5, n - 0.5]])
    for face in faces:
        inverse = invert_affine(estimate_alignment(scale_face(face, factor).landmarks, n))
        points = corners @ inverse[:, :2].T + inverse[:, 2]
        lo, hi = (points.min(axis=0) - 4) / factor, (points.max(axis=0) + 4) / factor
        ax0, ay0 = max(0, int(np.floor(lo[0]))), max(0, int(np.floor(lo[1])))
        ax1, ay1 = min(width, int(np.ceil(hi[0])) + 1), min(height, int(np.ceil(hi[1])) + 1)
        if ax0 >= ax1 or ay0 >= ay1:
            continue
        rx0, ry0 = max(0, ax0 - margin), max(0, ay0 - margin)
        rx1, ry1 = min(width, ax1 + margin), min(height, ay1 + margin)
        region = cv2.resize(pixels[ry0:ry1, rx0:rx1], ((rx1 - rx0) * factor, (ry1 - ry0) * factor),
                            interpolation=cv2.INTER_CUBIC)
        out[ay0 * factor : ay1 * factor, ax0 * factor : ax1 * factor] = region[
            (ay0 - ry0) * factor : (ay1 - ry0) * factor, (ax0 - rx0) * factor : (ax1 - rx0) * factor]
    return out


@dataclass(frozen=True)
class Background:
    """A photo's enlarged background and what the face restorer needs to paste faces onto it."""

    canvas: np.ndarray          # the upscaled photo, faces not pasted yet
    factor: int                 # canvas size / photo size: 1 (clean) or 2 (enlarge)
    source: np.ndarray          # what faces are cropped from: the photo itself, or :func:`enlarged_around_faces`
    faces: list[Face]           # the photo's faces in canvas coordinates


def make_background(
    pixels: np.ndarray,
    faces: Sequence[Face],
    upscaler: Upscaler,
    mode: str,
    *,
    grayscale: bool = False,
    progress: Callable[[int, int], None] | None = None,
    aborted: Callable[[], bool] | None = None,
) -> Background:
    """The background of ``pixels`` (:func:`upscale_background`) for ``faces``, detected on the original."""
    canvas = upscale_background(pixels, upscaler, mode, grayscale=grayscale, progress=progress, aborted=aborted)
    factor = OUTPUT_SCALE[mode]
    if factor == 1:
        return Background(canvas, 1, pixels, list(faces))
    return Background(canvas, factor, enlarged_around_faces(pixels, faces, factor),
                      [scale_face(f, factor) for f in faces])


def restore_on_background(
    restorer: Restorer,
    pixels: np.ndarray,
    faces: Sequence[Face],
    background: Background,
    *,
    references: Sequence[np.ndarray | None] | None = None,
    only: Collection[int] | None = None,
    canvas: np.ndarray | None = None,
    grayscale: bool = False,
    progress: Callable[[int, int], None] | None = None,
    aborted: Callable[[], bool] | None = None,
) -> PhotoResult:
    """:meth:`Restorer.restore` with the faces (detected on ``pixels``, the original) cropped from the original
    and pasted onto ``background.canvas`` (or ``canvas``, a previous pass's result of the canvas's size). The
    reports' boxes and sizes are in canvas coordinates. Faces too small in the original (``MIN_FACE``) are left
    alone in either mode: enlarging adds no information to restore them from."""
    if background.factor == 1:
        return restorer.restore(pixels, faces=faces, references=references, only=only,
                                canvas=background.canvas if canvas is None else canvas, grayscale=grayscale,
                                progress=progress, aborted=aborted)
    wanted = set(range(len(faces))) if only is None else set(only)
    small = sorted(i for i in wanted if faces[i].size < MIN_FACE)
    result = restorer.restore(background.source, faces=background.faces, references=references,
                              only=sorted(wanted - set(small)),
                              canvas=background.canvas if canvas is None else canvas, grayscale=grayscale,
                              progress=progress, aborted=aborted)
    if not small:
        return result
    # The pipeline's own report (and wording) for them, from the original, where nothing is restored.
    left = [replace(r, box=background.faces[r.index].box, size=background.faces[r.index].size)
            for r in restorer.restore(pixels, faces=faces, only=small).faces]
    return PhotoResult(result.pixels, sorted(result.faces + left, key=lambda r: r.index))


def restore_with_background(
    restorer: Restorer,
    pixels: np.ndarray,
    upscaler: Upscaler,
    mode: str,
    *,
    faces: Sequence[Face] | None = None,
    references: Sequence[np.ndarray | None] | None = None,
    grayscale: bool = False,
    progress: Callable[[int, int], None] | None = None,
    aborted: Callable[[], bool] | None = None,
) -> PhotoResult:
    """Background first, then the faces on top: one restorer's whole job for a photo (``ented restore``).
    ``progress(done, total)`` counts background tiles, then faces."""
    faces = list(restorer.detect(pixels) if faces is None else faces)
    background = make_background(pixels, faces, upscaler, mode, grayscale=grayscale, progress=progress,
                                 aborted=aborted)
    return restore_on_background(restorer, pixels, faces, background, references=references, grayscale=grayscale,
                                 progress=progress, aborted=aborted)


__all__ = ["DEFAULT_MODEL", "MODES", "OUTPUT_SCALE", "Background", "OnnxUpscaler", "TorchUpscaler", "Upscaler",
           "load_background_module", "load_upscaler", "make_background", "restore_on_background",
           "restore_with_background", "scale_face", "tile_spans", "upscale_background"]
