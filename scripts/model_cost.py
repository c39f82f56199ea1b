"""Parameters, GFLOPs and seconds of one forward pass of an ENTED configuration (default: the paper's 512 model).

    python scripts/model_cost.py [CONFIG] [--repeats N]
"""

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ented_desktop.core.network import ENTEDGenerator, preset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?", default="paper512")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = preset(args.config)
    g = ENTEDGenerator(cfg).eval()
    x = torch.rand(1, 3, cfg.resolution, cfg.resolution) * 2 - 1
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            g(x, x)
        g(x, x)  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            g(x, x)
            times.append(time.perf_counter() - start)
    params = sum(p.numel() for p in g.parameters())
    print(f"{cfg.name}: {params / 1e6:.2f} M generator parameters, "
          f"{counter.get_total_flops() / 2e9:.1f} GMACs ({counter.get_total_flops() / 1e9:.1f} GFLOPs) "
          f"per {cfg.resolution}x{cfg.resolution} face, forward pass {statistics.median(times):.2f} s "
          f"(median of {args.repeats}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
