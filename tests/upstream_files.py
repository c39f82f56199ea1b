"""Random-weight model files in exactly the layout their upstream projects release them, for tests.

Real weights cannot be downloaded here; these files have the same key names, nesting, container and file type
as the released ones, so import, detection, export and restoring are tested on what a user's file looks like:

- ``gfpgan``: GFPGANv1.4.pth (TencentARC/GFPGAN), ``{"params_ema": GFPGANv1Clean state dict}``, as GFPGANer
  loads it (``params_ema`` when present, else ``params``).
- ``codeformer``: codeformer.pth (sczhou/CodeFormer v0.1.0), ``{"params_ema": CodeFormer state dict}``, as
  inference_codeformer.py loads it.
- ``restoreformer`` / ``restoreformer++``: RestoreFormer.ckpt / RestoreFormer++.ckpt
  (wzhouxiff/RestoreFormerPlusPlus v1.0.0), PyTorch Lightning checkpoints: ``{"state_dict": {"vqvae.<key>": ...},
  "epoch", "global_step", "pytorch-lightning_version"}``; upstream strips the ``vqvae.`` prefix when loading.
- ``realesrgan``: RealESRGAN_x2plus.pth (xinntao/Real-ESRGAN v0.2.1), ``{"params_ema": RRDBNet state dict}``
  with basicsr's key names (``conv_first``, ``body.N.rdbM.convK``, ``conv_up1`` ...), scale 2 (pixel-unshuffled
  12-channel input).

Weights come from each architecture's own initialisation under ``torch.manual_seed(seed)``; files are written
with ``torch.save`` (the zip-based pickle format every current upstream release uses).
"""

from __future__ import annotations

from pathlib import Path

import torch

ARCHITECTURES = ("gfpgan", "codeformer", "restoreformer", "restoreformer++", "realesrgan")
FILE_NAMES = {"gfpgan": "GFPGANv1.4.pth", "codeformer": "codeformer.pth", "restoreformer": "RestoreFormer.ckpt",
              "restoreformer++": "RestoreFormer++.ckpt", "realesrgan": "RealESRGAN_x2plus.pth"}


def _gfpgan() -> dict[str, torch.Tensor]:
    from spandrel.architectures.GFPGAN import GFPGAN

    # GFPGANer's "clean" arch for v1.3/v1.4
    return GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                  num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True).state_dict()


def _codeformer() -> dict[str, torch.Tensor]:
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    # inference_codeformer.py's network: dim_embd=512, n_head=8, n_layers=9, connect_list 32..256
    return CodeFormer(dim_embd=512, n_head=8, n_layers=9, codebook_size=1024,
                      connect_list=["32", "64", "128", "256"]).state_dict()


def _restoreformer() -> dict[str, torch.Tensor]:
    from spandrel.architectures.RestoreFormer import RestoreFormer

    return RestoreFormer().state_dict()  # upstream defaults: ch 64, ch_mult (1,2,2,4,4,8), attention at 16


def _restoreformer_pp() -> dict[str, torch.Tensor]:
    from ented_desktop.core.archs.restoreformer_pp import RestoreFormerPP

    model = RestoreFormerPP()
    n = model.cfg.n_embed
    torch.nn.init.uniform_(model.quantize.embedding.weight, -1.0 / n, 1.0 / n)  # upstream's codebook init
    return model.state_dict()


def _realesrgan_x2() -> dict[str, torch.Tensor]:
    """basicsr's RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=2)."""
    feat, grow = 64, 32

    def conv(cin: int, cout: int, residual: bool = False) -> dict[str, torch.Tensor]:
        layer = torch.nn.Conv2d(cin, cout, 3, padding=1)
        if residual:  # basicsr scales residual-block init by 0.1, biases 0: the 23 blocks start near the identity
            return {"weight": layer.weight.detach() * 0.1, "bias": torch.zeros(cout)}
        return {"weight": layer.weight.detach(), "bias": layer.bias.detach()}

    parts: dict[str, dict[str, torch.Tensor]] = {"conv_first": conv(3 * 4, feat)}
    for b in range(23):
        for r in (1, 2, 3):
            for k in range(1, 6):
                parts[f"body.{b}.rdb{r}.conv{k}"] = conv(feat + (k - 1) * grow, grow if k < 5 else feat, True)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        parts[name] = conv(feat, feat)
    parts["conv_last"] = conv(feat, 3)
    return {f"{name}.{p}": t.contiguous() for name, tensors in parts.items() for p, t in tensors.items()}


def upstream_payload(arch: str, seed: int = 0) -> dict:
    """The object upstream's ``torch.save`` wrote for ``arch``, with random weights."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    torch.manual_seed(seed)
    if arch in ("restoreformer", "restoreformer++"):
        sd = _restoreformer() if arch == "restoreformer" else _restoreformer_pp()
        return {"epoch": 0, "global_step": 0, "pytorch-lightning_version": "1.0.8",
                "state_dict": {f"vqvae.{k}": v.detach().clone() for k, v in sd.items()}}
    sd = {"gfpgan": _gfpgan, "codeformer": _codeformer, "realesrgan": _realesrgan_x2}[arch]()
    return {"params_ema": {k: v.detach().clone() for k, v in sd.items()}}


def write_upstream_file(arch: str, path: Path, seed: int = 0) -> Path:
    """Write ``arch``'s random-weight file at ``path`` (a folder: the upstream file name inside it)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAMES[arch]
    torch.save(upstream_payload(arch, seed), path)
    return path


def install_as_thirdparty(upstream: Path, model_dir: Path, name: str) -> Path:
    """Store an upstream file in ``model_dir`` as the agreed ``NAME.safetensors`` third-party model file (what
    ``ented models import`` writes), listed in the manifest; no ONNX export. Returns its path."""
    import hashlib

    from safetensors.torch import save

    from ented_desktop.core.archs import detect_architecture, unwrap_state_dict
    from ented_desktop.core.engines.thirdparty import FORMAT
    from ented_desktop.core.weights import add_to_manifest

    upstream, model_dir = Path(upstream), Path(model_dir)
    state = unwrap_state_dict(torch.load(upstream, map_location="cpu", weights_only=True))
    info = detect_architecture(state)
    metadata = {"format": FORMAT, "architecture": info.architecture, "purpose": info.purpose,
                "resolution": str(info.resolution), "scale": str(info.scale),
                "source_sha256": hashlib.sha256(upstream.read_bytes()).hexdigest(), "source_name": upstream.name,
                "licence": "random test weights", "licence_url": ""}
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{name}.safetensors"
    path.write_bytes(save({k: v.contiguous().clone() for k, v in state.items()}, metadata=metadata))
    add_to_manifest(path)
    return path
