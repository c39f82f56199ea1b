"""`ented bench`: seconds per face with torch and ONNX Runtime, faces per second for a batch, and the time and
peak memory of restoring a 24-megapixel photo with several faces end to end (read, detect, restore, write).

Both engines are timed in the same run, alternately, so a shared machine's load affects them alike; the median,
fastest and slowest of the timed runs are reported. Third-party face models (``--model codeformer``) are timed
one face at a time (their ONNX exports take one face per call); their ONNX export is made beside the weights
when it is missing, as `ented models import` would have made it."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="measure restoration speed and memory on this machine")
    p.add_argument("--model", metavar="NAME_OR_PATH")
    p.add_argument("--model-dir", type=Path)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per measurement (median reported)")
    p.add_argument("--batch", type=int, default=8, help="faces per batch for the throughput figure")
    p.add_argument("--faces", type=int, default=5, help="faces in the 24-megapixel photo")
    p.add_argument("--skip-photo", action="store_true", help="leave out the 24-megapixel end-to-end run")
    p.add_argument("--fidelity", type=float, metavar="W", help="CodeFormer's fidelity weight (default 0.5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved(engines: list, face: np.ndarray, repeats: int) -> dict[str, list[float]]:
    """Per-face timings of each engine, alternating engines run by run (after one warm-up call each)."""
    for engine in engines:
        engine.restore(face, face)
    times: dict[str, list[float]] = {engine.name: [] for engine in engines}
    for _ in range(repeats):
        for engine in engines:
            start = time.perf_counter()
            engine.restore(face, face)
            times[engine.name].append(time.perf_counter() - start)
    return {name: [statistics.median(t), min(t), max(t)] for name, t in times.items()}


def peak_rss_mb() -> int | None:
    """This process's peak resident memory in MB; None on Windows, which has no ``resource`` module."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024))  # macOS reports bytes, Linux KiB


def sample_face(resolution: int) -> np.ndarray:
    from ented_desktop.core.face.align import align_face
    from ented_desktop.core.face.detect import create_detector
    from ented_desktop.core.imageio import read_image_rgb8
    from ented_desktop.core.paths import resources_dir

    photo = read_image_rgb8(resources_dir() / "samples" / "astronaut.jpg")
    face = create_detector("auto").detect(photo)[0]
    return align_face(photo, face.landmarks, resolution)[0]


def make_group_photo(faces: int, width: int = 6000, height: int = 4000) -> np.ndarray:
    """A 24 MP canvas with ``faces`` copies of the sample portrait at different sizes, on a smooth background."""
    from ented_desktop.core.imageio import read_image_rgb8
    from ented_desktop.core.paths import resources_dir

    portrait = read_image_rgb8(resources_dir() / "samples" / "astronaut.jpg")
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    canvas = np.empty((height, width, 3), np.uint8)  # built channel by channel to keep the peak small
    canvas[..., 0] = 90 + 60 * x
    canvas[..., 1] = 110 + 40 * y
    canvas[..., 2] = 140 - 50 * x
    sizes = [700, 900, 500, 1100, 600, 800, 400, 1000]
    for i in range(faces):
        s = sizes[i % len(sizes)]
        tile = cv2.resize(portrait, (s, s), interpolation=cv2.INTER_CUBIC)
        x = 200 + (i % 4) * 1400
        y = 200 + (i // 4) * 1900
        canvas[y : y + s, x : x + s] = tile
    return canvas


def run(args: argparse.Namespace) -> int:
    from ented_desktop.core.engines import load_engine
    from ented_desktop.core.engines.onnx_engine import OnnxEngine
    from ented_desktop.core.engines.onnx_export import export_onnx
    from ented_desktop.core.engines.thirdparty import is_thirdparty
    from ented_desktop.core.weights import load_generator, resolve_model, sha256_file

    weights = resolve_model(args.model, args.model_dir)
    if is_thirdparty(weights.with_suffix(".safetensors")):
        return _run_thirdparty(weights.with_suffix(".safetensors"), args)
    torch_engine = load_engine(weights, "torch", args.device, fidelity=args.fidelity)
    res = torch_engine.resolution
    face = sample_face(res).astype(np.float32) / 255.0
    one = face[None]
    batch = np.repeat(one, args.batch, axis=0)

    with tempfile.TemporaryDirectory() as tmp:
        if weights.with_suffix(".onnx").is_file():
            onnx_engine = load_engine(weights, "onnx", args.device)
        else:  # measure an export made for the occasion
            generator, info = load_generator(weights)
            onnx_path = Path(tmp) / f"{weights.stem}.onnx"
            export_onnx(generator, onnx_path, weights.stem, int(info.get("iterations", 0)), sha256_file(weights))
            onnx_engine = OnnxEngine(onnx_path, args.device)
        report: dict = {"model": weights.stem, "resolution": res, "device": torch_engine.device}
        for engine in (torch_engine, onnx_engine):
            per_face = _median_seconds(lambda e=engine: e.restore(one, one), args.repeats)
            per_batch = _median_seconds(lambda e=engine: e.restore(batch, batch), max(2, args.repeats // 3))
            report[engine.name] = {"seconds_per_face": round(per_face, 4),
                                   "batch": args.batch, "faces_per_second": round(args.batch / per_batch, 2)}
        report["onnx_speedup"] = round(report["torch"]["seconds_per_face"] / report["onnx"]["seconds_per_face"], 2)
        if not args.skip_photo:
            report["photo_24mp"] = _bench_photo(weights, args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return 0


def _run_thirdparty(weights: Path, args: argparse.Namespace) -> int:
    from ented_desktop.core.engines import load_engine
    from ented_desktop.core.engines.thirdparty_export import export_thirdparty_onnx

    if not weights.with_suffix(".onnx").is_file():
        print(f"exporting {weights.stem} to ONNX (once; it is kept beside the weights) ...", file=sys.stderr)
        export_thirdparty_onnx(weights)
    # The photo first: the process's peak memory is then what restoring it takes, not the two engines' loading.
    photo = None if args.skip_photo else _bench_photo(weights, args)
    engines = [load_engine(weights, name, args.device, fidelity=args.fidelity) for name in ("torch", "onnx")]
    res = engines[0].resolution
    face = (sample_face(res).astype(np.float32) / 255.0)[None]
    timings = _interleaved(engines, face, args.repeats)
    report: dict = {"model": weights.stem, "architecture": engines[0].architecture, "resolution": res,
                    "device": engines[0].device, "fidelity": engines[0].fidelity, "repeats": args.repeats}
    for name, (median, fastest, slowest) in timings.items():
        report[name] = {"seconds_per_face": round(median, 4), "fastest": round(fastest, 4),
                        "slowest": round(slowest, 4), "batch": 1, "faces_per_second": round(1.0 / median, 2)}
    report["onnx_speedup"] = round(report["torch"]["seconds_per_face"] / report["onnx"]["seconds_per_face"], 2)
    if photo is not None:
        report["photo_24mp"] = photo
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return 0


def _bench_photo(weights: Path, args: argparse.Namespace) -> dict:
    from ented_desktop.core.image_write import write_photo_atomic
    from ented_desktop.core.imageio import read_photo
    from ented_desktop.core.pipeline import load_restorer

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "group.jpg", Path(tmp) / "restored.jpg"
        cv2.imwrite(str(src), cv2.cvtColor(make_group_photo(args.faces), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        restorer = load_restorer(weights, "onnx" if weights.with_suffix(".onnx").is_file() else "torch", args.device,
                                 fidelity=args.fidelity)
        rss_before = peak_rss_mb()
        start = time.perf_counter()
        photo = read_photo(src)
        result = restorer.restore(photo.pixels)
        write_photo_atomic(result.pixels, dst, exif=photo.exif, icc_profile=photo.icc_profile)
        out["seconds"] = round(time.perf_counter() - start, 2)
        out.update(megapixels=round(photo.pixels.shape[0] * photo.pixels.shape[1] / 1e6, 1),
                   faces_found=len(result.faces), faces_restored=result.restored_count,
                   engine=restorer.engine.name, peak_rss_mb=peak_rss_mb(), peak_rss_mb_before=rss_before)
    return out


def _print_report(r: dict) -> None:
    print(f"model {r['model']} ({r['resolution']}x{r['resolution']}), device {r['device']}")
    for name in ("torch", "onnx"):
        e = r[name]
        spread = f" (fastest {e['fastest']:.3f}, slowest {e['slowest']:.3f})" if "fastest" in e else ""
        batch = f", {e['faces_per_second']:.1f} faces/s in batches of {e['batch']}" if e["batch"] > 1 else ""
        print(f"  {name:5s}: {e['seconds_per_face']:.3f} s per face{spread}{batch}")
    print(f"  ONNX Runtime is {r['onnx_speedup']:.2f}x torch eager")
    if "photo_24mp" in r:
        p = r["photo_24mp"]
        memory = ("peak memory not measured on this system" if p["peak_rss_mb"] is None else
                  f"peak memory {p['peak_rss_mb']} MB (process peak before the photo: {p['peak_rss_mb_before']} MB)")
        print(f"  {p['megapixels']} MP photo, {p['faces_restored']}/{p['faces_found']} faces ({p['engine']}): "
              f"{p['seconds']:.2f} s end to end, {memory}")
