"""Decision granularity, one vocabulary for every flag and class: ``batch`` (one bandit decision per
scoring call: LASeR's per-batch choice) or ``group`` (one per prompt group: the responses to one
prompt share an arm, so GRPO's group normalisation and DPO's pairs compare scores of one RM;
BayesianRouter's per-query routing is a group of one). Rows without group ids are each their own
group. The decisions of a call are made in ONE batched ``select`` over the units.

A unit's context is the mean of its rows' contexts; with a bias column (last column, all ones, as
``ContextFeaturizer`` writes it) the feature part is re-normalised to unit length and the bias kept,
so a batch context lives on the same scale as a row context. A unit's bandit reward is the mean of
its rows' feedback (``unit_rewards``).
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from laser_plugin.core.base import require

GRANULARITIES = ("batch", "group")


def check_granularity(value: str, name: str = "granularity") -> None:
    require(value in GRANULARITIES, f"{name} must be one of {GRANULARITIES}, got {value!r}")


def mean_context(rows: Any, bias: bool = True) -> np.ndarray:
    """[n, d] contexts -> [1, d]: their mean, re-normalised (bias column kept at 1) when ``bias``."""
    x = np.asarray(rows, dtype=np.float64)
    require(x.ndim == 2 and len(x) >= 1, f"mean_context: rows must be [n >= 1, d], got shape {x.shape}")
    if not bias:
        return x.mean(axis=0, keepdims=True)
    require(x.shape[1] >= 2, "mean_context: with a bias column contexts need d >= 2")
    z = x[:, :-1].mean(axis=0, keepdims=True)
    z = z / max(float(np.linalg.norm(z)), 1e-12)
    return np.concatenate([z, np.ones((1, 1))], axis=1)


def decision_units(n: int, granularity: str = "batch", group_ids: Optional[Any] = None) -> np.ndarray:
    """unit_of_row [n]: units numbered in order of first appearance (a group is never split)."""
    check_granularity(granularity)
    if granularity == "batch":
        return np.zeros(n, dtype=np.int64)
    if group_ids is None:  # every row its own group
        return np.arange(n, dtype=np.int64)
    g = np.asarray(group_ids).reshape(-1)
    require(len(g) == n, f"{len(g)} group ids for {n} rows")
    _, first, inverse = np.unique(g, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def unit_contexts(contexts: Any, unit_of_row: np.ndarray, bias: bool = True) -> np.ndarray:
    x = np.asarray(contexts, dtype=np.float64)
    units = int(unit_of_row.max()) + 1 if len(unit_of_row) else 0
    if units == len(x):  # one row per unit: nothing to average
        out = np.empty_like(x)
        out[unit_of_row] = x
        return out
    return np.concatenate([mean_context(x[unit_of_row == u], bias) for u in range(units)])


def unit_rewards(rewards: Any, unit_of_row: np.ndarray) -> np.ndarray:
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    require(len(r) == len(unit_of_row), f"{len(r)} rewards for {len(unit_of_row)} rows")
    units = int(unit_of_row.max()) + 1
    return np.bincount(unit_of_row, weights=r, minlength=units) / np.bincount(unit_of_row, minlength=units)


def select_units(selector: Any, contexts: Any, granularity: str = "batch", group_ids: Optional[Any] = None,
                 exclude: Optional[Iterable[int]] = None, bias: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One decision per unit in one call. Returns (arm per row [n], unit contexts [U, d], unit_of_row [n]);
    learn with ``selector.update(arms_of_units, unit_ctx, unit_rewards(feedback, unit_of_row))``."""
    x = np.asarray(contexts, dtype=np.float64)
    x = x[None, :] if x.ndim == 1 else x
    unit_of_row = decision_units(len(x), granularity, group_ids)
    ctx = unit_contexts(x, unit_of_row, bias)
    arms = np.asarray(selector.select(ctx, exclude=exclude), dtype=np.int64)
    return arms[unit_of_row], ctx, unit_of_row
