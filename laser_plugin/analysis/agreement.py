"""Agreement between reward arms on preference pairs.

Input everywhere: ``diffs[k, p] = score_k(chosen_p) - score_k(rejected_p)``, one row per arm.
An arm *judges pair p correctly* when diffs[k, p] > 0 (a tie is not correct). Two arms *agree* on a
pair when they state the same preference: sign(diff) equal (tie == tie counts as agreement).

    agreement[i, j] = mean_p [ sign(diffs[i, p]) == sign(diffs[j, p]) ]

Shared by ``laser-plugin train-router``'s report and ``laser-plugin agreement``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np


def _as_diffs(diffs: Any) -> np.ndarray:
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"score differences must be [K arms, P pairs], got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("score differences contain NaN or inf")
    return d


def correctness(diffs: Any) -> np.ndarray:
    """[K, P] bool: arm k ranked pair p's chosen response above its rejected one."""
    return _as_diffs(diffs) > 0


def arm_accuracy(diffs: Any) -> np.ndarray:
    """[K] fraction of pairs each arm judges correctly (NaN for zero pairs)."""
    c = correctness(diffs)
    return c.mean(axis=1) if c.shape[1] else np.full(c.shape[0], np.nan)


def agreement_matrix(diffs: Any, weights: Optional[Any] = None) -> np.ndarray:
    """[K, K] pairwise agreement rate of the arms' preferences (diagonal 1); optional pair weights."""
    s = np.sign(_as_diffs(diffs))
    k, p = s.shape
    if p == 0:
        return np.full((k, k), np.nan)
    w = np.ones(p) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (p,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {p} non-negative values with a positive sum")
    # one-hot over the three outcomes {-1, 0, +1}: agreement = sum over outcomes of co-occurrence
    onehot = np.stack([(s == v).astype(np.float64) for v in (-1.0, 0.0, 1.0)])  # [3, K, P]
    agree = np.einsum("okp,olp,p->kl", onehot, onehot, w) / w.sum()
    return agree


def format_matrix(matrix: np.ndarray, names: list[str], digits: int = 3) -> str:
    """Markdown table of a [K, K] matrix with arm names on both axes."""
    head = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    rows = [f"| {n} | " + " | ".join(f"{v:.{digits}f}" for v in row) + " |" for n, row in zip(names, matrix)]
    return head + "\n".join(rows) + "\n"
