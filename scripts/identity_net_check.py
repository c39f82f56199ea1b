"""How well the identity loss's descriptor tells people apart: AUC of its cosine similarity on same-person
against different-person pairs of prepared training faces (use training people only, never evaluation people).

    python scripts/identity_net_check.py data/lfw128_train --net data/identity_net --pairs 200
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch

from ented_desktop.core.imageio import read_image_rgb8
from training.identity_loss import IdentityLoss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("faces", type=Path, help="a prepared dataset: one folder of aligned faces per person")
    parser.add_argument("--net", type=Path, default=Path("data/identity_net"))
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    people = {p.name: sorted(p.glob("*.png")) for p in sorted(args.faces.iterdir()) if p.is_dir()}
    rng = random.Random(args.seed)
    same = [tuple(rng.sample(people[n], 2)) for n in rng.sample([n for n, f in people.items() if len(f) > 1],
                                                                 args.pairs)]
    diff = [(rng.choice(people[a]), rng.choice(people[b])) for a, b in
            (rng.sample(sorted(people), 2) for _ in range(args.pairs))]
    loss = IdentityLoss(args.net)

    @torch.no_grad()
    def descriptor(path: Path) -> torch.Tensor:
        image = torch.from_numpy(read_image_rgb8(path)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        return loss.descriptor(image)[0]

    s = np.array([float(descriptor(a) @ descriptor(b)) for a, b in same])
    d = np.array([float(descriptor(a) @ descriptor(b)) for a, b in diff])
    auc = float(np.mean(s[:, None] > d[None, :]) + 0.5 * np.mean(s[:, None] == d[None, :]))
    print(f"{args.pairs} same-person pairs: cosine {s.mean():.3f}; {args.pairs} different-person pairs: "
          f"{d.mean():.3f}; AUC {auc:.4f}")


if __name__ == "__main__":
    main()
