"""An evaluation's figures on the faces of people that model selection never saw.

``ented evaluate --count 200`` draws its faces from the same people, in the same order, as the full evaluation
set with the same seed (one face per person per round). So when candidates are chosen on a 200-face set, the
500-face report shares its first 200 people with that choice. This reads a report written by
``ented evaluate --out`` and recomputes its means and paired identity comparisons on the faces of the other
people only. Example:

    python scripts/report_unseen.py logs/s11_final_4x/report.json data/lfw128_test/eval_4x_seed0_n200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.eval_set import read_pairs
from training.eval_stats import paired_comparison, summarize

METRICS = ("psnr_y", "ssim_y", "niqe", "identity_distance")
COMPARISONS = (("model", "wrong_ref"), ("model", "input"))


def unseen_report(report: dict, selection_people: set[str]) -> dict:
    """Means per method and metric, and the paired identity comparisons, over samples of unseen people."""
    samples = [s for s in report["samples"] if s["person"] not in selection_people]
    methods = [m for m in ("input", "model", "wrong_ref") if all(m in s for s in samples)]
    means = {m: {k: summarize(s[m][k] for s in samples)["mean"] for k in METRICS} for m in methods}
    paired = {f"{a} vs {b}": paired_comparison([s[a]["identity_distance"] for s in samples],
                                               [s[b]["identity_distance"] for s in samples])
              for a, b in COMPARISONS if a in methods and b in methods}
    return {"faces": len(samples), "people": len({s["person"] for s in samples}), "means": means, "paired": paired}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="report.json of `ented evaluate --out`")
    parser.add_argument("selection_set", type=Path, help="the evaluation set candidates were chosen on")
    args = parser.parse_args()
    result = unseen_report(json.loads(args.report.read_text(encoding="utf-8")),
                           {p["person"] for p in read_pairs(args.selection_set)})
    print(f"{result['faces']} faces of {result['people']} people not in {args.selection_set.name}")
    print("| method | PSNR (Y) | SSIM (Y) | NIQE | identity distance |\n| --- | --- | --- | --- | --- |")
    for method, values in result["means"].items():
        print(f"| {method} | {values['psnr_y']:.2f} | {values['ssim_y']:.4f} | {values['niqe']:.2f} | "
              f"{values['identity_distance']:.4f} |")
    for name, c in result["paired"].items():
        low, high = c["ci95"]
        print(f"{name}: {c['mean_difference']:+.4f} [{low:+.4f}, {high:+.4f}], first closer "
              f"{100 * c['first_closer']:.1f}%, sign test p {c['sign_test_p']:.2g}, n {c['n']}")


if __name__ == "__main__":
    main()
