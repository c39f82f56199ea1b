"""`ented finetune --person-dir DIR [--base MODEL] [--minutes N] [--keep]`: a personal model from a person's photos.

The personal model is kept only when its held-out photo shows it better than the base model by more than one
photo can tell (ented_desktop.core.finetune_verdict, the rule the app's dialog follows too), or when ``--keep``
asks for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ented_desktop.core.errors import UserError


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="fine-tune the model on three or more photos of one person")
    p.add_argument("--person-dir", type=Path, required=True, help="a folder of photos of one person")
    p.add_argument("--base", metavar="MODEL", help="the model to start from (default: the installed model)")
    p.add_argument("--minutes", type=float, default=10.0, help="time limit (default 10)")
    p.add_argument("--name", help="the personal model's name (default: the folder's name)")
    p.add_argument("--model-dir", type=Path, help="where personal models go (default: the model directory)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--keep", action="store_true",
                   help="keep the personal model even when the held-out photo does not show it better")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ented_desktop.core.finetune_verdict import assess
    from ented_desktop.core.paths import model_dir
    from training.finetune import finetune_person, person_photos

    if args.minutes <= 0:
        raise UserError("--minutes must be positive.")
    photos = person_photos(args.person_dir)
    name = args.name or args.person_dir.resolve().name
    out_dir = model_dir(args.model_dir) / "personal"
    bar = tqdm(total=int(args.minutes * 60), unit="s", file=sys.stderr, desc=f"fine-tuning {name}",
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]")

    def progress(report: dict) -> None:
        bar.n = min(bar.total, int(args.minutes * 60 - report["eta_s"]))
        bar.set_postfix(it=report["iteration"], loss=f"{report['loss']:.3f}",
                        **({"val_psnr": f"{report['val']:.2f}"} if "val" in report else {}))

    result = finetune_person(photos, base_model=args.base, out_dir=out_dir, minutes=args.minutes, name=name,
                             device=args.device, progress_fn=progress)
    bar.close()
    b, a = result.before, result.after
    print(f"held-out photo {result.held_out}: degraded input {b['input_psnr']:.2f} dB; "
          f"base model {b['val_psnr']:.2f} dB; personal model {a['val_psnr']:.2f} dB "
          f"({a['val_psnr'] - b['val_psnr']:+.2f} dB)")
    if result.model_path is None:  # stopped before its first iteration
        print("The fine-tune stopped before its first iteration; keeping the base model.")
        return 0
    verdict = assess(b, a)
    print(verdict.sentence("base model"))
    if verdict.keep or args.keep:
        if not verdict.keep:
            print("Kept as --keep asked, although the base model is recommended.")
        print(f"Saved: {result.model_path}")
        print(f"Use it with: ented restore ... --model {result.model_path}")
        return 0
    from ented_desktop.core.weights import remove_model

    remove_model(result.model_path)
    print("Keeping the base model (--keep would have kept the personal model).")
    return 0
