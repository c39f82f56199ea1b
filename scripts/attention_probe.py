"""How sharp is a model's cross attention (eqs. 5 and 7)? Restore evaluation faces and record its weights.

For the first faces of an evaluation set made by ``ented evaluate`` (its ``pairs.jsonl``), each with its true
reference, this prints for both directions of the latent refinement (degraded input -> reference, which gives
V_LQ, and reference -> input, which gives V_ref): the entropy of each query position's weights as a fraction of
a uniform distribution's (1.0 is uniform), the mean largest weight against the uniform weight, and its
selectivity: how far the attended values lie from the plain average of the values, as a fraction of how far the
values themselves lie from it (0 for uniform weights, about 1 when each query picks one value). Attention near
uniform makes V_LQ the reference's average: the style code then carries only the reference's global statistics.

    python scripts/attention_probe.py data/lfw128_test/eval_4x_seed0_n200 --model models/ented-lfw128.safetensors
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ented_desktop.core.engines import load_engine
from ented_desktop.core.imageio import read_image_rgb8
from ented_desktop.core.network import refinement
from training.eval_set import read_pairs
from training.evaluate import restore_all

DIRECTIONS = ("input -> reference (V_LQ)", "reference -> input (V_ref)")


@contextmanager
def recorded_attention() -> Iterator[list[dict[str, torch.Tensor]]]:
    """Record every call of :func:`refinement.cross_attention`: LatentRefinement calls it for V_LQ, then V_ref."""
    calls: list[dict[str, torch.Tensor]] = []
    original = refinement.cross_attention

    def recording(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = original(q, k, v)
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(q.shape[1]), dim=-1)
        calls.append({"attn": attn, "out": out, "v": v})
        return out

    refinement.cross_attention = recording
    try:
        yield calls
    finally:
        refinement.cross_attention = original


def summarise(calls: list[dict[str, torch.Tensor]], direction: int) -> dict[str, float]:
    """Mean normalised entropy, mean largest weight, uniform weight and selectivity over the recorded faces."""
    entropy, largest, selectivity, keys = [], [], [], 0
    for call in calls[direction::2]:
        attn = call["attn"].double()
        keys = attn.shape[-1]
        entropy.append((-(attn * attn.clamp_min(1e-30).log()).sum(-1) / math.log(keys)).mean(-1))
        largest.append(attn.amax(-1).mean(-1))
        mean_v = call["v"].double().mean(dim=2, keepdim=True)
        spread = (call["v"].double() - mean_v).norm(dim=1).square().mean(-1).sqrt()  # RMS over value positions
        selectivity.append((call["out"].double() - mean_v).norm(dim=1).mean(-1) / spread.clamp_min(1e-12))
    return {"entropy": float(torch.cat(entropy).mean()), "largest": float(torch.cat(largest).mean()),
            "uniform": 1.0 / keys, "selectivity": float(torch.cat(selectivity).mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_set", type=Path, help="an evaluation set folder (with pairs.jsonl)")
    parser.add_argument("--model", help="model name or .safetensors file (default: the default model)")
    parser.add_argument("--count", type=int, default=50, help="the first COUNT faces (default 50)")
    args = parser.parse_args(argv)
    engine = load_engine(args.model, "torch", "cpu")
    ids = [row["id"] for row in read_pairs(args.eval_set)[: args.count]]
    lq = [read_image_rgb8(args.eval_set / "lq" / f"{i}.png") for i in ids]
    ref = [read_image_rgb8(args.eval_set / "ref" / f"{i}.png") for i in ids]
    with recorded_attention() as calls:
        restore_all(engine, lq, ref, 16)
    if not calls:
        print(f"{engine.model_name} has no cross attention (a Table 3 model without latent refinement)")
        return 1
    print(f"{engine.model_name} on {args.eval_set} ({len(ids)} faces, true references)")
    print("| direction | entropy / uniform's | largest weight | uniform weight | selectivity |")
    print("| --- | --- | --- | --- | --- |")
    for d, name in enumerate(DIRECTIONS):
        s = summarise(calls, d)
        print(f"| {name} | {s['entropy']:.3f} | {s['largest']:.4f} | {s['uniform']:.4f} | {s['selectivity']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
