"""`ented train CONFIG [--resume]`: train ENTED from a configuration (training/configs/*.json or a path)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from ented_desktop.core.errors import UserError


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="train ENTED from a configuration (resumable)")
    p.add_argument("config", help="a configuration name in training/configs or a path to a JSON file")
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--run-dir", type=Path, help="where checkpoints, stats.jsonl and samples go (default runs/NAME)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--model-dir", type=Path, help="where to look for optional VGG-19 weights")
    p.add_argument("--iterations", type=int, help="override the configuration's iteration count")
    p.add_argument("--snapshot", type=Path, metavar="FILE.safetensors",
                   help="do not train: write the EMA generator of the run's last checkpoint to FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch.distributed as dist

    from training.config import load_train_config
    from training.loop import train

    try:
        cfg = load_train_config(args.config)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    if args.iterations is not None:
        if args.iterations < 1:
            raise UserError(f"--iterations must be at least 1, not {args.iterations}.")
        cfg = dataclasses.replace(cfg, iterations=args.iterations)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    run_dir = args.run_dir or Path("runs") / cfg.name
    if args.snapshot:
        from training.loop import snapshot

        if not (run_dir / "checkpoint.pt").exists():
            raise UserError(f"{run_dir} has no checkpoint to take a snapshot of.")
        iteration, digest = snapshot(cfg, run_dir, args.snapshot)
        print(f"{args.snapshot}: iteration {iteration}, sha256 {digest}")
        return 0
    # One process: Ctrl-C or SIGTERM ends the iteration and writes a checkpoint. Under torchrun every rank
    # would stop at its own iteration, so there the periodic checkpoints are what a resume starts from.
    stop = _stop_on_signals() if not dist.is_initialized() else None
    try:
        summary = train(cfg, run_dir, resume=args.resume, device=args.device, model_dir=args.model_dir,
                        abort_fn=stop.is_set if stop else None)
    except FileExistsError as exc:
        raise UserError(str(exc)) from exc
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    print(json.dumps(summary, indent=2))
    return 0


def _stop_on_signals() -> threading.Event:
    """The first SIGINT/SIGTERM asks the run to stop after its iteration (with a checkpoint); a second one stops
    at once, losing at most the iterations since the last periodic checkpoint."""
    stop = threading.Event()

    def request(signum: int, _frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\n{signal.Signals(signum).name}: stopping after this iteration and writing a checkpoint "
              "(again to stop at once); continue with --resume.", file=sys.stderr)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request)
    return stop
