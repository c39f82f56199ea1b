"""Summaries and paired comparisons of per-sample metrics, for ``ented evaluate``'s report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and standard error of the finite values; ``n`` counts them and
    ``excluded`` the others (NaN: metric failed on that sample; inf: identical images for PSNR)."""
    x = np.asarray(list(values), np.float64)
    finite = x[np.isfinite(x)]
    n = int(finite.size)
    std = float(np.std(finite, ddof=1)) if n >= 2 else None
    return {"mean": float(np.mean(finite)) if n else None, "std": std,
            "sem": std / math.sqrt(n) if std is not None else None, "n": n, "excluded": int(x.size - n)}


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the probability, under a fair coin, of a split at least this uneven."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2.0 * tail)


def paired_comparison(first: Sequence[float], second: Sequence[float]) -> dict[str, float | int | None]:
    """Compare two methods' distances to the ground truth on the same samples (lower is closer).

    ``mean_difference`` is the mean of ``first - second`` (negative: ``first`` is closer on average), with
    its standard error and a normal 95 % interval; ``first_closer`` is the fraction of samples where
    ``first`` is strictly closer, ``ties`` the number of equal pairs, ``sign_test_p`` the two-sided exact
    sign test over the untied pairs. Pairs with a missing (non-finite) value are left out.
    """
    a, b = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two equally long sequences, got shapes {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n == 0:
        return {"n": 0, "mean_difference": None, "sem": None, "ci95": None, "first_closer": None, "ties": 0,
                "sign_test_p": None}
    d = a - b
    mean = float(d.mean())
    sem = float(d.std(ddof=1) / math.sqrt(n)) if n >= 2 else None
    wins, losses = int(np.sum(a < b)), int(np.sum(a > b))
    return {
        "n": n,
        "mean_difference": mean,
        "sem": sem,
        "ci95": [mean - 1.96 * sem, mean + 1.96 * sem] if sem is not None else None,
        "first_closer": wins / n,
        "ties": n - wins - losses,
        "sign_test_p": sign_test_p(wins, losses),
    }
