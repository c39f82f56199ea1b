"""Measure how long the photo library takes to import a large folder and to make thumbnails.

Generates COUNT small JPEGs (640 x 480 by default, half with an EXIF date) in a temporary folder,
imports them into a fresh library, imports them again (nothing changed), and makes thumbnails for a
sample. Prints the figures. Example: ``python scripts/bench_library_import.py --count 5000``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ented_desktop.core.library import Library


def make_photos(folder: Path, count: int, width: int, height: int) -> int:
    """Write ``count`` distinct JPEGs into subfolders of 500; returns the total bytes written."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bases = []
    for _ in range(8):  # smooth gradients plus grain: compresses like a photo, not like noise
        a, b, c = rng.uniform(0.2, 1.0, 3)
        base = np.stack(
            [xx / width * 255 * a, yy / height * 255 * b, (xx + yy) / (width + height) * 255 * c], -1
        )
        bases.append(base + rng.normal(0, 6, base.shape))
    total = 0
    for i in range(count):
        pixels = bases[i % len(bases)].copy()
        pixels[(i * 7) % height, :] = i % 256  # one distinct line: every file has its own hash
        exif = Image.Exif()
        if i % 2:
            exif[0x8769] = {0x9003: f"{1950 + i % 60}:{1 + i % 12:02d}:{1 + i % 28:02d} 12:00:00"}
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            buffer, "JPEG", quality=85, exif=exif.tobytes()
        )
        path = folder / f"set{i // 500:02d}" / f"photo_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        total += len(buffer.getvalue())
    return total


def timed_import(lib: Library, album: int, folder: Path) -> tuple[float, float, object]:
    """Seconds to the first indexed photo, seconds in all, and the report."""
    started = time.perf_counter()
    first = None
    gen = lib.photos.import_paths(album, [folder])
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return first or 0.0, time.perf_counter() - started, stop.value
        if first is None and progress.phase == "indexing":
            first = time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--thumbnails", type=int, default=200, help="how many thumbnails to time")
    parser.add_argument("--thumbnail-size", type=int, default=256)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ented-bench-") as tmp:
        photos = Path(tmp) / "photos"
        t0 = time.perf_counter()
        size = make_photos(photos, args.count, args.width, args.height)
        print(
            f"generated {args.count} JPEGs of {args.width}x{args.height} ({size / 1e6:.0f} MB, "
            f"{size / args.count / 1e3:.0f} kB each) in {time.perf_counter() - t0:.1f} s"
        )
        with Library(Path(tmp) / "library") as lib:
            album = lib.albums.create("bench")
            first, total, report = timed_import(lib, album, photos)
            print(
                f"first import: {total:.2f} s ({total / args.count * 1e3:.2f} ms per photo; first photo "
                f"indexed after {first:.2f} s); added {len(report.added)}, problems {len(report.problems)}"
            )
            t0 = time.perf_counter()
            listed = lib.photos.all(album)
            print(f"listing the album: {len(listed)} photos in {(time.perf_counter() - t0) * 1e3:.0f} ms")
            _, total, report = timed_import(lib, album, photos)
            print(f"re-import, nothing changed: {total:.2f} s; unchanged {len(report.unchanged)}")
            times = []
            for photo in listed[: args.thumbnails]:
                t0 = time.perf_counter()
                lib.photos.thumbnail_path(photo.id, args.thumbnail_size)
                times.append(time.perf_counter() - t0)
            cached = []
            for photo in listed[: args.thumbnails]:
                t0 = time.perf_counter()
                lib.photos.thumbnail_path(photo.id, args.thumbnail_size)
                cached.append(time.perf_counter() - t0)
            print(
                f"thumbnail {args.thumbnail_size} px: median {statistics.median(times) * 1e3:.1f} ms, "
                f"max {max(times) * 1e3:.1f} ms per photo over {len(times)} photos; "
                f"cached: median {statistics.median(cached) * 1e3:.2f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
