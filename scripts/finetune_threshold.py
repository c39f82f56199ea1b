"""How far can a personal model's gain on one held-out photo be trusted? The measurement behind
``ented_desktop.core.finetune_verdict.KEEP_THRESHOLD_DB``.

For each person: ``finetune_person`` (exactly what ``ented finetune`` and the app run) on their first ``--train``
photos, then the base and the personal model are compared, as the fine-tune's report does (six fixed degradations,
the first training photo as reference), on the report photo, on the report photo under other degradation seeds,
and on ``--extra`` later photos of the person that the fine-tune never saw. The extra photos say what the personal
model does for the person's other photos; how far the report photo's gain lies from them is the noise a keep rule
has to clear. One JSON line per run; ``--summary FILE`` summarises such lines. Example (LFW peopleDevTest people,
never used to train the shipped model):

    python scripts/finetune_threshold.py --model models/ented-lfw128.safetensors --minutes 1 \\
        --people ../shared/data/lfw/images_deepfunneled/Jacques_Chirac ... > finetune_threshold.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path

import torch

from ented_desktop.core.weights import load_generator
from training.finetune import Validation, aligned_faces, finetune_person, person_photos


def gain(base: torch.nn.Module, personal: torch.nn.Module, validation: Validation) -> float:
    return validation(personal)["val_psnr"] - validation(base)["val_psnr"]


def measure(model: Path, person: Path, train: int, extra: int, minutes: float, seed: int, seeds: int) -> dict:
    base, _ = load_generator(model)
    photos = person_photos(person)
    crops, _ = aligned_faces(photos[: train + extra + 4], base.config.resolution)  # a few spare for faceless ones
    crops = crops[: train + extra]
    names = {p.name: p for p in photos}
    dev = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        result = finetune_person([names[n] for n, _ in crops[:train]], base_model=model, out_dir=Path(tmp),
                                 minutes=minutes, name="probe", seed=seed)
        personal, info = load_generator(result.model_path)
    reference = crops[0][1]  # the fine-tune's validation reference (its first training face)
    report = crops[train - 1][1]
    return {
        "person": person.name, "train": train, "seed": seed, "iterations": info["finetune"]["iterations"],
        "stopped_by": info["finetune"]["stopped_by"],
        "reported": result.after["val_psnr"] - result.before["val_psnr"],
        "report_other_seeds": [gain(base, personal, Validation(report, reference, dev, s)) for s in range(1, seeds)],
        "extra": [gain(base, personal, Validation(face, reference, dev)) for _, face in crops[train:]],
    }


def summary(lines: list[dict]) -> None:
    changed = [r for r in lines if any(abs(g) > 1e-9 for g in r["extra"])]
    print(f"{len(lines)} runs; {len(lines) - len(changed)} kept the base model's weights (every gain 0.00)")
    for r in lines:
        extra = r["extra"]
        print(f"{r['person']:<20} train {r['train']} seed {r['seed']} it {r['iterations']:>4}: reported "
              f"{r['reported']:+.3f}; other seeds {' '.join(f'{g:+.2f}' for g in r['report_other_seeds'])}; "
              f"{len(extra)} other photos mean {statistics.mean(extra):+.3f} sd "
              f"{statistics.pstdev(extra):.3f} min {min(extra):+.2f} max {max(extra):+.2f}")
    if not changed:
        return
    face_sd = math.sqrt(statistics.mean([statistics.variance(r["extra"]) for r in changed]))
    seed_sd = math.sqrt(statistics.mean([statistics.variance([r["reported"], *r["report_other_seeds"]])
                                         for r in changed]))
    gap = [r["reported"] - statistics.mean(r["extra"]) for r in changed]
    single = [g for r in changed for g in r["extra"]]
    print(f"pooled sd of one photo's gain around the person's mean: {face_sd:.3f} dB (faces), "
          f"{seed_sd:.3f} dB (degradation seeds of the report photo)")
    print(f"reported minus mean of the other photos: mean {statistics.mean(gap):+.3f}, "
          f"rms {math.sqrt(statistics.mean([g * g for g in gap])):.3f}, max {max(gap):+.3f}")
    print(f"single-photo gains of changed models: {len(single)}, mean {statistics.mean(single):+.3f}, "
          f"above +0.10: {sum(g > 0.1 for g in single)}, above +0.20: {sum(g > 0.2 for g in single)}, "
          f"above +0.30: {sum(g > 0.3 for g in single)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="the base model (.safetensors)")
    parser.add_argument("--people", type=Path, nargs="*", default=[], help="person folders")
    parser.add_argument("--train", type=int, default=5, help="photos given to the fine-tune (default 5)")
    parser.add_argument("--extra", type=int, default=10, help="later photos measured (default 10)")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="the fine-tune's seed")
    parser.add_argument("--seeds", type=int, default=5, help="degradation seeds for the report photo (default 5)")
    parser.add_argument("--summary", type=Path, help="summarise a file of this script's output lines instead")
    args = parser.parse_args()
    if args.summary:
        summary([json.loads(line) for line in args.summary.read_text().splitlines() if line.strip()])
        return
    torch.set_num_threads(1)
    for person in args.people:
        print(json.dumps(measure(args.model, person, args.train, args.extra, args.minutes, args.seed, args.seeds)),
              flush=True)


if __name__ == "__main__":
    main()
