"""Which architecture a state dict belongs to, from its key names and tensor shapes (no code from the file runs).

GFPGAN, CodeFormer, RestoreFormer and Real-ESRGAN are recognised by spandrel (the library chaiNNer and ComfyUI
use; spandrel_extra_arches adds CodeFormer). RestoreFormer++ is not in spandrel, and spandrel would take it for
RestoreFormer: both are the same VQ autoencoder, but RestoreFormer++'s decoder also cross-attends at 32 x 32, so
it has attention weights at a decoder level above the bottom one (``decoder.up.4.attn``); it is checked first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import torch

from ..errors import ModelError

FACE_SIZE = 512  # all four face models work on FFHQ-aligned 512 x 512 crops


@dataclass(frozen=True)
class ArchInfo:
    architecture: str   # gfpgan, codeformer, restoreformer, restoreformer++ or realesrgan
    purpose: str        # "face" or "background"
    resolution: int     # face crop side; 0 for background models
    scale: int          # output size / input size: 1 for face models
    display: str        # for people: "CodeFormer", "Real-ESRGAN 2x" ...


SPANDREL_IDS = {"GFPGAN": "gfpgan", "CodeFormer": "codeformer", "RestoreFormer": "restoreformer",
                "ESRGAN": "realesrgan"}
DISPLAY = {"gfpgan": "GFPGAN", "codeformer": "CodeFormer", "restoreformer": "RestoreFormer",
           "restoreformer++": "RestoreFormer++"}
SUPPORTED = "GFPGAN, CodeFormer, RestoreFormer, RestoreFormer++ and Real-ESRGAN"


@cache
def registry():
    """spandrel's registry with spandrel_extra_arches installed (once per process)."""
    import spandrel
    import spandrel_extra_arches

    spandrel_extra_arches.install(ignore_duplicates=True)
    return spandrel.MAIN_REGISTRY


def is_restoreformer_pp(state_dict: Mapping[str, torch.Tensor]) -> bool:
    if "quantize.embedding.weight" not in state_dict or "encoder.conv_in.weight" not in state_dict:
        return False
    levels = [int(k.split(".")[2]) for k in state_dict if k.startswith("decoder.up.") and ".attn." in k]
    bottom = max((int(k.split(".")[2]) for k in state_dict if k.startswith("decoder.up.")), default=0)
    return any(level < bottom for level in levels)


def realesrgan_scale(state_dict: Mapping[str, torch.Tensor]) -> int:
    """Real-ESRGAN x2 and x1 feed the network a pixel-unshuffled input (12 or 48 channels instead of 3)."""
    from spandrel.architectures.ESRGAN import ESRGANArch

    return ESRGANArch().load(dict(state_dict)).scale


def detect_architecture(state_dict: Mapping[str, torch.Tensor]) -> ArchInfo:
    """The architecture of an unwrapped state dict (:func:`unwrap_state_dict`); ModelError for any other."""
    if is_restoreformer_pp(state_dict):
        return ArchInfo("restoreformer++", "face", FACE_SIZE, 1, DISPLAY["restoreformer++"])
    found = next((a for a in registry().architectures("detection") if a.architecture.detect(state_dict)), None)
    if found is None:
        raise ModelError(f"The file holds network weights of an unknown architecture; ENTED Desktop runs {SUPPORTED}.")
    arch_id = str(found.architecture.id)
    name = SPANDREL_IDS.get(arch_id)
    if name is None:
        raise ModelError(f"The file is a {arch_id} model, an architecture ENTED Desktop does not run; "
                         f"it runs {SUPPORTED}.")
    if name == "realesrgan":
        scale = realesrgan_scale(state_dict)
        return ArchInfo(name, "background", 0, scale, f"Real-ESRGAN {scale}x")
    return ArchInfo(name, "face", FACE_SIZE, 1, DISPLAY[name])
