"""Bandit feedback signals for online RL (PPO / REINFORCE++ / GRPO), pure numpy.

LASeR (arXiv 2410.01735) rewards the arm with the negative training loss of the batch it scored,
    r_t = -L(batch_t)            (then rescaled by the feedback normaliser, e.g. q20/q80 -> [0, 1]).
In iterative DPO that loss measures how learnable the chosen RM's preferences are. In PPO/GRPO the
policy loss is a weaker proxy (advantages are normalised, so its scale drifts), hence two signals
designed for group-based RL:

group_variance (informativeness): GRPO's advantage A_i = (r_i - mean_g) / std_g is zero for every
    sample of a group whose rewards are all equal, so such a group teaches nothing. The signal is
        s = (1/G) * sum_g 1[std(r_g) > eps]
    the share of informative groups the arm produced. Alone it would favour a noisy arm, so it is
    meant for pools of sensible RMs or together with a verifier.
verifier (agreement): where labels exist and a verifier arm is in the pool, the arm is rewarded by
    how often its within-group ordering agrees with the verifier's,
        s = #concordant pairs / #pairs the verifier orders strictly   (0.5 when it orders none)
    which resists arms whose preferences are easy to fit but wrong.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def _groups(group_ids: Optional[np.ndarray], n: int) -> list[np.ndarray]:
    if group_ids is None:
        return [np.arange(n)]
    group_ids = np.asarray(group_ids)
    return [np.flatnonzero(group_ids == g) for g in np.unique(group_ids)]


def group_informativeness(rewards: np.ndarray, group_ids: Optional[np.ndarray], eps: float = 1e-6) -> float:
    """Share of groups (>= 2 samples) whose rewards are not all equal."""
    rewards = np.asarray(rewards, dtype=np.float64)
    groups = [g for g in _groups(group_ids, len(rewards)) if len(g) >= 2]
    if not groups:
        return 0.0
    return float(np.mean([rewards[g].std() > eps for g in groups]))


def verifier_agreement(scores: np.ndarray, verifier: np.ndarray, group_ids: Optional[np.ndarray]) -> float:
    """Share of within-group pairs ordered strictly by the verifier that the arm orders the same way."""
    scores = np.asarray(scores, dtype=np.float64)
    verifier = np.asarray(verifier, dtype=np.float64)
    concordant = total = 0
    for g in _groups(group_ids, len(scores)):
        s = scores[g][:, None] - scores[g][None, :]
        v = verifier[g][:, None] - verifier[g][None, :]
        strict = np.triu(v != 0, k=1)
        total += int(strict.sum())
        concordant += int((np.sign(s) == np.sign(v))[strict].sum())
    return concordant / total if total else 0.5


def loss_signal(loss: float) -> float:
    """LASeR's raw signal: the negative loss (normalised downstream)."""
    if not np.isfinite(loss):
        raise ValueError(f"training loss is {loss}: refusing to feed a non-finite reward to the bandit")
    return -float(loss)
