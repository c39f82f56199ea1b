"""``ented prepare-dataset SRC DST --size N``: detect and align faces into a person-grouped training set.

Exit status 0, or 1 when some photos could not be read; photos skipped by the face rules (no face, too small,
too blurred, ...) are part of a normal run and only counted in the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ented_desktop.core.errors import UserError
from ented_desktop.core.face.detect import DETECTORS
from training.prepare import DEFAULT_AMBIGUOUS_RATIO, DEFAULT_MAX_UPSCALE, UNREADABLE, prepare_dataset


def register(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name,
        help="detect and align the faces of a photo folder into a training set",
        description="Walk SRC; each sub-folder is one person (only the largest face of each of its photos "
        "is kept), photos directly in SRC are unlabelled (all faces kept). Faces are aligned to the FFHQ "
        "template at N x N and written as DST/<person>/<stem>_<k>.png with DST/manifest.jsonl. Faces too "
        "small or too blurred to be ground truth are skipped, with the reason in DST/skipped.jsonl. "
        "Re-running the same command resumes an interrupted run.",
    )
    parser.add_argument("src", type=Path, metavar="SRC", help="photo folder (one sub-folder per person)")
    parser.add_argument("dst", type=Path, metavar="DST", help="output folder (created if needed)")
    parser.add_argument("--size", type=int, required=True, metavar="N", help="crop side in pixels")
    parser.add_argument("--people", type=Path, metavar="FILE",
                        help="only these people (LFW peopleDevTrain.txt format)")
    parser.add_argument("--min-face", type=float, default=0.0, metavar="PX",
                        help="skip faces whose aligned crop spans fewer photo pixels than this (default 0)")
    parser.add_argument("--max-upscale", type=float, default=DEFAULT_MAX_UPSCALE, metavar="X",
                        help="skip faces the crop would enlarge more than X times "
                        f"(default {DEFAULT_MAX_UPSCALE:g}: no crop pixel without a photo pixel)")
    parser.add_argument("--min-sharpness", type=float, metavar="X",
                        help="skip faces whose variance of the Laplacian is below X "
                        "(default 40 at 128 px, scaled by (128/N)^2)")
    parser.add_argument("--ambiguous-ratio", type=float, default=DEFAULT_AMBIGUOUS_RATIO, metavar="R",
                        help="in a person folder, skip photos whose second face is more than R times the "
                        f"size of the largest, as it is unclear which is the person (default "
                        f"{DEFAULT_AMBIGUOUS_RATIO:g}; 1 always takes the largest)")
    parser.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector (default auto)")
    parser.add_argument("--model-dir", type=Path, metavar="DIR", help="folder with detector weights")
    parser.set_defaults(run=run)


def format_report(report: dict) -> str:
    """The figures a person reads at the end of a run, one per line."""
    lines = [
        f"time this run:      {report['seconds']} s ({report['photos_this_run']} photos; "
        f"{report['photos_done_before']} done by earlier runs)",
        f"photos read:        {report['photos_read']} of {report['photos_done']} "
        f"({report['photos_outside_people_list']} outside the people list)",
        f"faces kept:         {report['faces_kept']} ({report['unlabelled_faces']} unlabelled)",
        f"people:             {report['people']} ({report['people_with_2_or_more']} with 2 or more faces)",
        "skipped:",
    ]
    skipped = report["skipped"]
    lines += [f"  {reason:<24} {count}" for reason, count in skipped.items()] or ["  nothing"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from training.pairs import load_people_list

    if args.max_upscale <= 0:
        raise UserError("--max-upscale must be positive.")
    if not 0 < args.ambiguous_ratio <= 1:
        raise UserError("--ambiguous-ratio must be in (0, 1].")
    people = load_people_list(args.people) if args.people else None
    with tqdm(desc="prepare", unit="photo", file=sys.stderr, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = prepare_dataset(
            args.src, args.dst, size=args.size, people=people, min_face=args.min_face,
            max_upscale=args.max_upscale, min_sharpness=args.min_sharpness,
            ambiguous_ratio=args.ambiguous_ratio, detector=args.detector,
            model_dir=args.model_dir, progress=progress,
        )
    print(format_report(report))
    return 1 if report["skipped"].get(UNREADABLE) else 0
