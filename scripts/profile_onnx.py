"""Where an exported face model's time goes in ONNX Runtime, with the session options the app uses.

    python scripts/profile_onnx.py MODEL.onnx [--runs 2] [--top 10]

Runs a fixed 512 px face once to warm up, profiles the next runs, and prints for the last one: the time per
operator type, the convolutions' work (GFLOP, from the shapes ONNX Runtime recorded) and the rate they ran at,
and the slowest nodes. Convolutions at the machine's arithmetic limit put a floor under the time per face that
no graph change can lower: their GFLOP divided by the best rate measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ented_desktop.core.engines.ort_session import session_options  # noqa: E402


def conv_flops(event: dict) -> float:
    """Multiply-adds x 2 of one Conv node's run, from its recorded weight and output shapes (blocked NCHWc
    convolutions record their logical weight shape, so the count is the same for every kernel)."""
    weight = list(event["args"]["input_type_shape"][1].values())[0]
    out = list(event["args"]["output_type_shape"][0].values())[0]
    return 2.0 * float(np.prod(weight)) * out[0] * out[-2] * out[-1]


def last_run_nodes(trace: list[dict]) -> list[dict]:
    """The node events of the trace's last ``model_run``."""
    run = [e for e in trace if e.get("name") == "model_run"][-1]
    start, end = run["ts"], run["ts"] + run["dur"]
    return [e for e in trace if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
            and start <= e["ts"] <= end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=2, help="profiled runs after the warm-up (the last is shown)")
    parser.add_argument("--top", type=int, default=10, help="slowest nodes to list")
    args = parser.parse_args(argv)
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = session_options()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
        shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
        face = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
        feeds = {i.name: face if i.name == "lq" else np.array([0.5], np.float32) for i in session.get_inputs()}
        session.run(None, feeds)
        for _ in range(args.runs):
            start = time.perf_counter()
            session.run(None, feeds)
            seconds = time.perf_counter() - start
        trace = json.loads(Path(session.end_profiling()).read_text())
    nodes = last_run_nodes(trace)
    by_op, count = Counter(), Counter()
    for e in nodes:
        by_op[e["args"]["op_name"]] += e["dur"] / 1e3
        count[e["args"]["op_name"]] += 1
    convs = [(conv_flops(e), e["dur"] / 1e6, e["name"]) for e in nodes if e["args"]["op_name"] == "Conv"]
    gflop = sum(f for f, _, _ in convs) / 1e9
    conv_s = sum(d for _, d, _ in convs)
    steady = [f / d for f, d, _ in convs if d > 0.01] or [f / d for f, d, _ in convs if d > 0]  # over 10 ms
    best = max(steady) / 1e9
    print(f"{args.model.name}: {seconds:.3f} s for the last run, {sum(by_op.values()) / 1e3:.3f} s in kernels")
    for op, ms in by_op.most_common():
        print(f"  {op:24s} {ms:8.1f} ms  {count[op]:4d} nodes")
    print(f"convolutions: {gflop:.1f} GFLOP in {conv_s:.3f} s = {gflop / conv_s:.0f} GFLOP/s "
          f"(best node {best:.0f} GFLOP/s); at the best rate they alone take {gflop / best:.2f} s")
    print("slowest nodes:")
    for e in sorted(nodes, key=lambda e: -e["dur"])[: args.top]:
        print(f"  {e['dur'] / 1e3:7.1f} ms  {e['args']['op_name']:14s} {e['name'].removesuffix('_kernel_time')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
