"""Does fine-tuning learn the person, or only the task? A fine-tune with a control.

For each pair (A, B) of people: fine-tune the base model on A's photos (``training.finetune.finetune_person``,
exactly what ``ented finetune`` runs), then measure the base model and A's personal model on the held-out photo of
A (the fine-tune's own report photo) and on the held-out photo of B, whom the personal model never saw. A gain on A
that is larger than the gain on B is what a personal model adds beyond further training on faces in general.
Example (LFW peopleDevTest people, never used to train the shipped model):

    python scripts/finetune_control.py --model models/ented-lfw128.safetensors --minutes 3 \\
        --people ../shared/data/lfw/images_deepfunneled/Bill_McBride ../shared/data/lfw/images_deepfunneled/Ian_Thorpe
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from ented_desktop.core.weights import load_generator
from training.finetune import Validation, aligned_faces, finetune_person, person_photos


def held_out_validation(person_dir: Path, resolution: int) -> Validation:
    """The report validation ``finetune_person`` uses for this person: last photo held out, first as reference."""
    crops, _ = aligned_faces(person_photos(person_dir), resolution)
    return Validation(crops[-1][1], crops[0][1], torch.device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the base model (.safetensors)")
    parser.add_argument("--people", type=Path, nargs="+", required=True,
                        help="person folders; each is fine-tuned on and is the control of the next (cyclically)")
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()

    base, _ = load_generator(args.model)
    res = base.config.resolution
    validations = {p: held_out_validation(p, res) for p in args.people}
    print("| fine-tuned on | measured on | input PSNR | base | personal | gain (dB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, person in enumerate(args.people):
        control = args.people[(i + 1) % len(args.people)]
        with tempfile.TemporaryDirectory() as tmp:
            result = finetune_person(person_photos(person), base_model=args.model, out_dir=Path(tmp),
                                     minutes=args.minutes, name="control")
            if result.model_path is None:
                print(f"| {person.name} | - | fine-tune did not run | | | |")
                continue
            personal, _ = load_generator(result.model_path)
        for measured in (person, control):
            before, after = validations[measured](base), validations[measured](personal)
            print(f"| {person.name} | {measured.name} | {before['input_psnr']:.2f} | {before['val_psnr']:.2f} "
                  f"| {after['val_psnr']:.2f} | {after['val_psnr'] - before['val_psnr']:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
