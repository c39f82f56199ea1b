"""The training objective of ENTED (paper section 3.4, eqs. 4 and 9-12).

The quantisation loss (eq. 4) lives with the dictionary in ``ented_desktop.core.network.quantizer``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 9, non-saturating: E log(1 + exp(-D(G(I_LQ, I_ref))))."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor | None) -> torch.Tensor:
    """The discriminator's side of eq. 9: log(1 + exp(D(fake))) + log(1 + exp(-D(real))).

    Either side may be None, so that the two terms can be back-propagated separately.
    """
    loss = torch.zeros(())
    if real_logits is not None:
        loss = loss.to(real_logits) + F.softplus(-real_logits).mean()
    if fake_logits is not None:
        loss = loss.to(fake_logits) + F.softplus(fake_logits).mean()
    return loss


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): squared gradient norm of D on real images, mean over the batch.

    ``real_images`` must have ``requires_grad`` set before D was applied.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def attention_reconstruction_loss(
    gt: torch.Tensor,
    ref: torch.Tensor,
    extraction: dict[int, torch.Tensor],
    distribution: dict[int, torch.Tensor],
) -> torch.Tensor:
    """Eq. 11: sum over texture layers l of || I_gt^l - I_ref^l (C~_e^l)^T C~_d^l ||_1.

    gt, ref: N x 3 x H x W; extraction[l], distribution[l]: N x k x hw at the layer's resolution. The images are
    down-sampled bilinearly to that resolution. The L1 norm is taken as a mean over pixels, so the weight
    lambda_att does not depend on the resolution.
    """
    total = gt.new_zeros(())
    for res, c_e in extraction.items():
        c_d = distribution[res]
        n = gt.shape[0]
        gt_l = F.interpolate(gt, size=(res, res), mode="bilinear", align_corners=False).reshape(n, 3, -1)
        ref_l = F.interpolate(ref, size=(res, res), mode="bilinear", align_corners=False).reshape(n, 3, -1)
        reconstructed = torch.bmm(torch.bmm(ref_l, c_e.transpose(1, 2)), c_d)
        total = total + (gt_l - reconstructed).abs().mean()
    return total


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels (finest first) and the low-pass residual, with a 2x2 average pyramid."""
    bands = []
    for _ in range(levels):
        low = F.avg_pool2d(x, 2)
        bands.append(x - F.interpolate(low, scale_factor=2.0, mode="bilinear", align_corners=False))
        x = low
    return [*bands, x]


def laplacian_l1(a: torch.Tensor, b: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Sum over pyramid levels of the mean absolute difference; every band counts as much as the colours."""
    pairs = zip(laplacian_pyramid(a, levels), laplacian_pyramid(b, levels), strict=True)
    return sum((pa - pb).abs().mean() for pa, pb in pairs)


VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's ImageNet VGG-19 weights
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 indices in torchvision's vgg19().features, and their weights.
VGG_LAYERS = {1: 0.1, 6: 0.1, 11: 1.0, 20: 1.0, 29: 1.0}


def find_vgg19_weights(model_dir: Path | None = None) -> Path | None:
    """ImageNet VGG-19 weights from the model directory or torchvision's cache; None when neither has them."""
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE]
    if model_dir is not None:
        candidates.insert(0, Path(model_dir) / VGG19_FILE)
    return next((p for p in candidates if p.is_file()), None)


class PerceptualLoss(nn.Module):
    """Eq. 10 with ImageNet VGG-19 when its weights can be loaded locally.

    Otherwise the documented fallback: L1 plus an L1 over a Laplacian pyramid (``laplacian_l1``), which needs no
    pretrained network. ImageNet weights cannot be downloaded on an offline machine (docs/TRAINING.md, "Where we
    depart, and why"), and a randomly initialised VGG is not a perceptual metric. ``name`` says which one is in use,
    for logs and reports.
    """

    def __init__(self, model_dir: Path | None = None) -> None:
        super().__init__()
        path = find_vgg19_weights(model_dir)
        self.vgg: nn.Module | None = None
        if path is None:
            self.name = "fallback: L1 + Laplacian-pyramid L1 (no ImageNet VGG-19 weights found)"
            return
        from torchvision.models import vgg19

        net = vgg19()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.vgg = net.features[: max(VGG_LAYERS) + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1))
        self.name = f"VGG-19 perceptual loss (eq. 10), weights {path.name}"

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1.0) / 2.0 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in VGG_LAYERS:
                out.append(x)
        return out

    def forward(self, output: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        if self.vgg is None:
            return (output - gt).abs().mean() + laplacian_l1(output, gt)
        fo, fg = self._features(output), self._features(gt.detach())
        return sum(w * (a - b).abs().mean() for w, a, b in zip(VGG_LAYERS.values(), fo, fg, strict=True))
