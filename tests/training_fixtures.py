"""Generated training data and a tiny run configuration, shared by the training tests and their subprocesses."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from tests.tiny_network import TINY
from training.config import TrainConfig


class SyntheticTriplets(torch.utils.data.Dataset):
    """Smooth random 32x32 'faces'; LQ is a 4x box-downsampled copy, the reference a mirrored copy.

    Every sample is a pure function of its draw number, like the real dataset, and records it in "draw".
    """

    def __init__(self, count: int = 16) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(draw % self.count)
        gt = F.interpolate(torch.rand(1, 3, 4, 4, generator=g) * 2 - 1, size=32, mode="bilinear")[0]
        lq = F.interpolate(F.avg_pool2d(gt[None], 4), size=32, mode="nearest")[0]
        return {"lq": lq, "ref": gt.flip(-1), "gt": gt, "draw": torch.tensor(draw)}


def tiny_config(**overrides) -> TrainConfig:
    base = dict(
        name="tiny", network=dict(__import__("json").loads(TINY.to_json())), data_root="", iterations=40,
        batch_size=4, vq_warmup=10, kmeans_every=10, kmeans_images=16, workers=0, log_every=1,
        checkpoint_every=5, sample_every=20, adv_start=20,
    )
    base.update(overrides)
    return TrainConfig(**base)


if __name__ == "__main__":
    # Subprocess entry: python -m tests.training_fixtures RUN_DIR ITERATIONS [resume]
    from training.loop import train

    run_dir, iterations = Path(sys.argv[1]), int(sys.argv[2])
    train(tiny_config(iterations=iterations), run_dir, resume="resume" in sys.argv[3:], dataset=SyntheticTriplets(),
          show_progress=False)
