"""``ented degrade SRC DST``: make a synthetic low-quality test set from high-quality faces.

Exit status 0, or 1 when some images could not be read (they are listed in the printed counts)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.degradation import LEVELS, degrade_folder


def register(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name,
        help="degrade every image of a folder into a test set (GFP-GAN degradation model)",
        description="Degrade every image under SRC (recursively) and write PNGs with the same relative paths "
        "under DST, plus DST/params.jsonl with the values drawn. Each file's randomness depends only on "
        "the seed and its path, so the same command always gives the same test set.",
    )
    parser.add_argument("src", type=Path, metavar="SRC", help="folder of high-quality images")
    parser.add_argument("dst", type=Path, metavar="DST", help="output folder (created if needed)")
    parser.add_argument(
        "--level",
        choices=sorted(LEVELS),
        default="paper",
        help="degradation ranges: paper (the paper's model), 4x or 8x (around that down-sampling), "
        "edm (paper plus RestoreFormer++ haze, uneven degradation and misalignment); default paper",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    with tqdm(desc="degrade", unit="img", file=sys.stderr, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        counts = degrade_folder(args.src, args.dst, level=args.level, seed=args.seed, progress=progress)
    print(json.dumps(counts, indent=1))
    return 1 if counts["skipped"] else 0
