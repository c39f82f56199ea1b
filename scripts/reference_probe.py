"""How much does a model use its reference photo? Restore an evaluation set with four references each.

For every face of an evaluation set made by ``ented evaluate`` (its ``pairs.jsonl``): the true reference (another
photo of the person), the wrong one (another person's), the ground truth itself (the best reference there can be)
and the degraded input (what the application passes when a user gives none). Prints, per reference, PSNR (Y) to
the ground truth and the mean absolute change of the output from the true-reference output, in grey levels. A
model that uses its reference gains PSNR with the ground truth as reference and changes with the reference; one
that ignores it does neither. Example:

    python scripts/reference_probe.py data/lfw128_test/eval_4x_seed0_n200 --model models/ented-lfw128.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ented_desktop.core.engines import load_engine
from ented_desktop.core.imageio import read_image_rgb8
from training.evaluate import read_pairs
from training.metrics import psnr

REFERENCES = ("true", "wrong", "ground truth", "input")
BATCH = 16


def _read(folder: Path, kind: str, sample_id: str) -> np.ndarray:
    return read_image_rgb8(folder / kind / f"{sample_id}.png").astype(np.float32) / np.float32(255.0)


def _uint8(batch: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(batch * 255.0), 0, 255).astype(np.uint8)


def probe(eval_set: Path, engine, count: int | None = None) -> dict[str, dict[str, float]]:
    """Mean PSNR (Y) to the ground truth and mean |output - true-reference output| (grey levels) per reference."""
    rows = read_pairs(eval_set)[:count]
    scores: dict[str, list[float]] = {name: [] for name in REFERENCES}
    changes: dict[str, list[float]] = {name: [] for name in REFERENCES}
    for start in range(0, len(rows), BATCH):
        ids = [row["id"] for row in rows[start : start + BATCH]]
        lq = np.stack([_read(eval_set, "lq", i) for i in ids])
        gt = np.stack([_read(eval_set, "gt", i) for i in ids])
        refs = {
            "true": np.stack([_read(eval_set, "ref", i) for i in ids]),
            "wrong": np.stack([_read(eval_set, "wrong_ref", i) for i in ids]),
            "ground truth": gt,
            "input": lq,
        }
        outputs = {name: _uint8(engine.restore(lq, ref)) for name, ref in refs.items()}
        gt8 = _uint8(gt)
        for name, out in outputs.items():
            scores[name] += [psnr(o, g) for o, g in zip(out, gt8, strict=True)]
            change = np.abs(out.astype(np.float32) - outputs["true"].astype(np.float32)).mean(axis=(1, 2, 3))
            changes[name] += change.tolist()
    return {name: {"psnr": float(np.mean(scores[name])), "change": float(np.mean(changes[name]))}
            for name in REFERENCES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_set", type=Path, help="an evaluation set folder (with pairs.jsonl)")
    parser.add_argument("--model", help="model name or .safetensors file (default: the default model)")
    parser.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--count", type=int, help="only the first COUNT faces")
    args = parser.parse_args(argv)
    engine = load_engine(args.model, args.engine, "cpu")
    results = probe(args.eval_set, engine, args.count)
    print(f"{engine.model_name} on {args.eval_set} ({args.count or 'all'} faces)")
    print("| reference | PSNR (Y) | mean change from true-reference output (grey levels) |")
    print("| --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['psnr']:.3f} | {r['change']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
