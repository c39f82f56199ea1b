"""A contact sheet of a model on real low-quality faces, for a person to look at: input | output per image.

Every image under SRC (default ``../shared/data/real_lq``) is restored without a reference: these photos have
none, so each face is its own reference (the desktop app's fallback), and grayscale photos stay grayscale.
Images in folders named ``*_aligned`` or ``*_cropped`` are FFHQ-aligned face crops
(``Restorer.restore_aligned``); the others are whole photos whose faces are detected, restored and pasted back
(``Restorer.restore``). Each pair is scaled to a common height and labelled with its file name. Example:
``python scripts/real_lq_sheet.py --model models/ented-lfw128.safetensors --out docs/real_lq_sheet.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ented_desktop.core.errors import UserError
from ented_desktop.core.image_write import write_photo_atomic
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES, read_photo, to_uint8
from ented_desktop.core.pipeline import Restorer, load_restorer
from ented_desktop.core.weights import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "real_lq"
ALIGNED_SUFFIXES = ("_aligned", "_cropped")
LABEL_HEIGHT = 24
GAP = 8


def is_aligned_folder(folder: Path) -> bool:
    return folder.name.endswith(ALIGNED_SUFFIXES)


def restore_one(restorer: Restorer, path: Path, aligned: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """(input, output, note) for one image."""
    photo = read_photo(path)
    pixels = to_uint8(photo.pixels)
    if aligned:
        return pixels, restorer.restore_aligned(pixels, None, grayscale=photo.grayscale), "aligned crop"
    result = restorer.restore(pixels, grayscale=photo.grayscale)
    return pixels, result.pixels, f"{result.restored_count} of {len(result.faces)} faces restored"


def scaled(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    interp = cv2.INTER_AREA if image.shape[0] > height else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interp)


def sheet_row(label: str, before: np.ndarray, after: np.ndarray, height: int) -> np.ndarray:
    """``label`` above ``before | after``, both ``height`` pixels high, on white."""
    a, b = scaled(before, height), scaled(after, height)
    row = np.full((LABEL_HEIGHT + height, a.shape[1] + GAP + b.shape[1], 3), 255, np.uint8)
    cv2.putText(row, label, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    row[LABEL_HEIGHT:, : a.shape[1]] = a
    row[LABEL_HEIGHT:, a.shape[1] + GAP :] = b
    return row


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model name or file (default {DEFAULT_MODEL})")
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help=f"image folder (default {DEFAULT_SRC})")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "real_lq_sheet.png", help="the sheet (PNG)")
    parser.add_argument("--height", type=int, default=320, help="height of each image on the sheet (default 320)")
    parser.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--model-dir", type=Path, help="the model directory (also holds detector weights)")
    parser.add_argument("--detector", default="auto", help="auto, yuface, retinaface or yunet")
    args = parser.parse_args(argv)
    try:
        if not args.src.is_dir():
            raise UserError(f"The folder {args.src} does not exist.")
        files = sorted(p for p in args.src.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise UserError(f"No images were found under {args.src}.")
        restorer = load_restorer(args.model, args.engine, args.device, args.model_dir, args.detector)
        rows = []
        for path in files:
            started = time.monotonic()
            before, after, note = restore_one(restorer, path, is_aligned_folder(path.parent))
            label = f"{path.relative_to(args.src).as_posix()} ({note})"
            print(f"{label}: {time.monotonic() - started:.1f} s", file=sys.stderr)
            rows.append(sheet_row(label, before, after, args.height))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_photo_atomic(stack_rows(rows), args.out, overwrite=True)
    except UserError as exc:
        print(f"real_lq_sheet: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} images, model {restorer.engine.model_name}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
