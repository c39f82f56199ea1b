"""The state dict inside a model file as its project saved it (``params_ema``, Lightning's ``state_dict`` ...)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import ModelError

# Where projects keep the weights inside the saved object, best first: basicsr (GFPGAN, CodeFormer, Real-ESRGAN)
# saves the EMA weights, which upstream inference uses, beside the plain ones.
WRAPPER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net", "g_ema")
# Prefixes a wrapper module adds to every key: Lightning's ``vqvae.`` (RestoreFormer, RestoreFormer++, whose
# checkpoints also hold the training losses' weights beside it) and DataParallel's ``module.``.
PREFIXES = ("vqvae.", "module.")


def unwrap_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """The parameter name -> tensor mapping of a loaded model file, unwrapped and with wrapper prefixes removed.

    Raises ModelError when ``obj`` holds no such mapping."""
    for _ in range(3):  # wrappers nest at most a couple of levels deep
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError("The file holds no network weights (no mapping of parameter names to tensors).")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if len(state) < len(obj) / 2 or not state:
        raise ModelError("The file is not a network's weights: most of its entries are not tensors.")
    for prefix in PREFIXES:
        if any(k.startswith(prefix) for k in state):
            state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    return state
