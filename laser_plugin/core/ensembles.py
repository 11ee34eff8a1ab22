"""Ensembles: strategies that call EVERY arm and combine their (per-arm normalised) scores.
They cost K times one selected RM; LASeR compares against the first two.

score_mean      r_i = mean_k s_ki                                  (LASeR's "RM score ensemble")
agreement       majority vote of the arms on each within-group pair (i, j); r_i = share of the
                other group members that i beats (ties 1/2)        (LASeR's "RM agreement ensemble")
min             r_i = min_k s_ki            (worst case; Coste et al. 2023, curbs over-optimisation)
mean_minus_var  r_i = mean_k s_ki - lam * var_k s_ki   (uncertainty-weighted; Coste et al. 2023)

``select`` returns -1 for every row ("all arms"); ``combine(scores[K, N], group_ids)`` makes the
reward. Arms that failed are passed as NaN rows and ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from laser_plugin.core.base import NoOptions, Selector, SelectorConfig, require
from laser_plugin.core.registry import register_selector


class Ensemble(Selector):
    uses_all_arms = True

    def scores(self, contexts: Any) -> np.ndarray:
        return np.zeros((len(self._contexts(contexts)), self.num_arms))

    def select(self, contexts: Any, exclude: Optional[Iterable[int]] = None) -> np.ndarray:
        return np.full(len(self._contexts(contexts)), -1, dtype=np.int64)

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        return None  # nothing to learn: every arm is always used

    def _matrix(self, scores: Any) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        require(s.ndim == 2 and s.shape[0] == self.num_arms,
                f"{self.name}.combine: scores must be [K={self.num_arms}, N], got shape {s.shape}")
        keep = ~np.all(np.isnan(s), axis=1)
        require(bool(keep.any()), f"{self.name}.combine: every arm's scores are NaN")
        s = s[keep]
        lost = np.flatnonzero(np.all(np.isnan(s), axis=0))
        require(len(lost) == 0, f"{self.name}.combine: samples {lost[:8].tolist()} have no score from any arm")
        return s

    def combine(self, scores: Any, group_ids: Optional[np.ndarray] = None) -> np.ndarray:
        raise NotImplementedError


@register_selector("score_mean")
class ScoreMean(Ensemble):
    config_cls = NoOptions

    def combine(self, scores: Any, group_ids: Optional[np.ndarray] = None) -> np.ndarray:
        return np.nanmean(self._matrix(scores), axis=0)


@register_selector("min")
class WorstCase(Ensemble):
    config_cls = NoOptions

    def combine(self, scores: Any, group_ids: Optional[np.ndarray] = None) -> np.ndarray:
        return np.nanmin(self._matrix(scores), axis=0)


@dataclass
class MeanMinusVarConfig(SelectorConfig):
    lam: float = 1.0

    def __post_init__(self) -> None:
        require(self.lam >= 0, f"mean_minus_var: lam must be >= 0, got {self.lam}")


@register_selector("mean_minus_var")
class MeanMinusVar(Ensemble):
    config_cls = MeanMinusVarConfig

    def combine(self, scores: Any, group_ids: Optional[np.ndarray] = None) -> np.ndarray:
        s = self._matrix(scores)
        return np.nanmean(s, axis=0) - self.config.lam * np.nanvar(s, axis=0)


@register_selector("agreement")
class Agreement(Ensemble):
    config_cls = NoOptions

    def combine(self, scores: Any, group_ids: Optional[np.ndarray] = None) -> np.ndarray:
        s = self._matrix(scores)
        n = s.shape[1]
        groups = np.zeros(n, dtype=np.int64) if group_ids is None else np.asarray(group_ids).reshape(-1)
        require(len(groups) == n, f"agreement.combine: {len(groups)} group ids for {n} samples")
        out = np.full(n, 0.5)
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            if len(idx) < 2:
                continue
            sub = s[:, idx]
            votes = np.sign(sub[:, :, None] - sub[:, None, :])  # [K, m, m]: +1 arm k prefers i over j
            majority = np.sign(np.nansum(votes, axis=0))  # the arms' majority on each pair
            wins = (majority > 0).sum(axis=1) + 0.5 * ((majority == 0).sum(axis=1) - 1)  # minus the diagonal
            out[idx] = wins / (len(idx) - 1)
        return out
