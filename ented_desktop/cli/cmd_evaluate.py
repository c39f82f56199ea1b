"""``ented evaluate --dataset D [--model M | --baselines-only] ...``: the paper's quantitative evaluation.

D is a prepared dataset (``manifest.jsonl``), whose evaluation set for the level and seed is built into
``D/eval_<level>_seed<S>`` (``_n<N>`` appended unless ``--count`` is 500) or reused when it exists with
the same settings; or D is such an evaluation set (``pairs.jsonl``), used as it is. Prints the Markdown table;
``report.json``, ``report.md`` and ``grid.png`` go to ``--out`` (default ``<eval set>/results/<model>``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ented_desktop.core.errors import UserError
from ented_desktop.core.weights import DEFAULT_MODEL, resolve_model


def register(subparsers: argparse._SubParsersAction, name: str) -> None:
    p = subparsers.add_parser(name, help="measure a model on a fixed evaluation set (PSNR, SSIM, NIQE, identity)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, required=True, metavar="D",
                   help="a prepared dataset or an evaluation set built from one")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="NAME_OR_PATH", help=f"the model to evaluate (default {DEFAULT_MODEL})")
    which.add_argument("--baselines-only", action="store_true",
                       help="evaluate the degraded input alone, without a model")
    p.add_argument("--level", choices=("4x", "8x"), help="degradation level of a new evaluation set (default 4x)")
    p.add_argument("--seed", type=int, help="seed of a new evaluation set (default 0)")
    p.add_argument("--count", type=int, help="faces in a new evaluation set (default 500)")
    p.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--model-dir", type=Path, metavar="DIR",
                   help="the model directory (default: ENTED_MODEL_DIR or user data); also searched for NIQE")
    p.add_argument("--niqe", type=Path, metavar="PATH", help="niqe_pris_params.npz (default: in the model directory)")
    p.add_argument("--out", type=Path, metavar="DIR", help="report folder (default <eval set>/results/<model>)")
    p.add_argument("--compare", nargs="+", action="extend", default=[], metavar="LABEL=PATH",
                   help="further models restored with the true reference, e.g. the Table 3 ablations")
    p.add_argument("--batch-size", type=int, default=16, metavar="N", help="faces per engine call (default 16)")
    p.set_defaults(run=run)


def parse_compare(items: list[str]) -> list[tuple[str, str]]:
    """``LABEL=PATH`` strings -> (label, path) pairs."""
    pairs = []
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label.strip() or not path.strip():
            raise UserError(f"--compare takes LABEL=PATH, not {item!r}.")
        pairs.append((label.strip(), path.strip()))
    return pairs


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from training.eval_set import ensure_eval_set
    from training.evaluate import evaluate

    if args.count is not None and args.count < 1:
        raise UserError("--count must be at least 1.")
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1.")
    compare = parse_compare(args.compare)
    model = None if args.baselines_only else (args.model or DEFAULT_MODEL)
    for name in ([model] if model else []) + [path for _, path in compare]:
        resolve_model(name, args.model_dir)  # a typo fails now, not after a long evaluation-set build
    started = time.monotonic()
    with tqdm(desc="build eval set", unit="face", file=sys.stderr, dynamic_ncols=True, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        eval_set, built = ensure_eval_set(args.dataset, level=args.level, seed=args.seed, count=args.count,
                                          progress=progress)
    print(f"built evaluation set {eval_set} in {time.monotonic() - started:.1f} s" if built else
          f"using evaluation set {eval_set}", file=sys.stderr)
    report = evaluate(model, eval_set, engine=args.engine, device=args.device, model_dir=args.model_dir,
                      models=compare, niqe_params=args.niqe, out_dir=args.out, batch_size=args.batch_size)
    print(report["markdown"])
    print(f"reports written to {report['out_dir']}", file=sys.stderr)
    return 0
