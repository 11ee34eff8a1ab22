"""Whose scores train when the bandit explores (``--reward_selector.explore_by``).

LASeR (arXiv 2410.01735, Alg. 1) trains on the pairs of the arm LinUCB picks,
    a_t = argmax_k  x . theta_k + alpha sqrt(x^T A_k^-1 x),
so every exploratory pick (the bonus outranking a better estimate) is also a training step on an arm
the bandit believes worse. That is unavoidable when the bandit's reward comes from training on the
pick's pairs (LASeR's -loss, the probe). When it does not (answer correctness, a cross-arm audit:
both judge an arm's scores, not the training they cause), exploring can cost scoring instead:

    training  the pick scores and its scores train (LASeR)
    scoring   the arm with the best estimate, g_t = argmax_k x . theta_k (Thompson: the posterior
              mean), scores the rows that train; where a_t != g_t, a_t scores the same rows for the
              bandit's feedback only (one more arm call)
    none      g_t scores; nothing more (the signal explores by itself: an audit scores every arm)

and in both of the last two a decision ABSTAINS where even g_t is not estimated better than chance,
x . theta_g <= 0: the calibrated signals (a verifier's or an audit's agreement rate) are learned as
rate - 1/2, so 0 is chance, and before any evidence every estimate is 0. With ``none`` the bandit
learns only from audits (a few percent of its decisions), so the bar is its own confidence bound
instead of the estimate: x . theta_g - alpha sqrt(x^T A_g^-1 x) <= 0 abstains (Thompson: v instead
of alpha; ``Selector.lower_bounds``): measured on iterative DPO's audit signal, where the plain
estimate let a noise arm that led on a handful of audits train (gold 0.377 from 0.583 at the start),
the bound held the start (0.574). An abstaining decision is scored by its pick, for feedback
only, and trains nothing. So the policy never trains on an arm the bandit has no evidence for.
Measured (benchmarks/results/learning_quality.md, verifier signal, 3
seeds): with ``training`` 22-81% of the first round's decisions trained on arms other than the
verifier before it had won, and math ended 0.514 instead of 0.625 with ``scoring`` (0.569 vs 0.583
overall, within noise).
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from laser_plugin.core.base import require

EXPLORE_BY = ("training", "scoring", "none")
# the arm-share column of decisions that abstained (reports, arm shares): scored, nothing trained
ABSTAINED = "abstained"


def check_explore_by(value: str, name: str = "explore_by") -> None:
    require(value in EXPLORE_BY, f"{name} must be one of {EXPLORE_BY}, got {value!r}")


def training_arms(estimates: Optional[np.ndarray], picked: np.ndarray, excluded: Iterable[int] = ()) -> np.ndarray:
    """g_t per row: the allowed arm with the best estimate ([N, K] ``estimates``), or the pick where
    it ties for best (or where there are no estimates: a selector that keeps none)."""
    picked = np.asarray(picked, dtype=np.int64)
    if estimates is None:
        return picked
    est = np.array(estimates, dtype=np.float64)
    require(est.ndim == 2 and len(est) == len(picked), f"estimates must be [{len(picked)}, K], got {est.shape}")
    est[:, sorted(int(a) for a in excluded)] = -np.inf
    best = est.max(axis=1)
    at_best = est[np.arange(len(picked)), picked] >= best - 1e-12 * np.maximum(1.0, np.abs(best))
    return np.where(at_best, picked, est.argmax(axis=1)).astype(np.int64)


def above_chance(estimates: Optional[np.ndarray], arms: np.ndarray) -> np.ndarray:
    """Per row, whether ``arms``' estimate is above chance (> 0); all True without estimates."""
    arms = np.asarray(arms, dtype=np.int64)
    if estimates is None:
        return np.ones(len(arms), dtype=bool)
    return np.asarray(estimates, dtype=np.float64)[np.arange(len(arms)), arms] > 0.0


__all__ = ["ABSTAINED", "EXPLORE_BY", "above_chance", "check_explore_by", "training_arms"]
