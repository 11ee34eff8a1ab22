"""Context-free baselines from LASeR's comparisons and the bandit literature.

random       uniform arm (LASeR's "random RM")
fixed        always ``arm`` (the "best single RM")
round_robin  arms in turn (LASeR's "sequential RMs")
eps_greedy   best empirical mean (unplayed arms first), a uniform arm with probability epsilon
ucb1         mean_k + c * sqrt(2 ln t / n_k)   (Auer et al. 2002), unplayed arms first
exp3         p_k = (1 - gamma) w_k / sum w + gamma / K,  w_k <- w_k exp(gamma r / (p_k K))
             (Auer et al. 2002; rewards clipped to [0, 1]; p_k is the probability the arm had
             when it was selected, renormalised over the arms that were allowed then)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

import numpy as np

from laser_plugin.core.base import NoOptions, Selector, SelectorConfig, require
from laser_plugin.core.registry import register_selector


class _MeanRewards(Selector):
    """Per-arm running mean of rewards (shared by eps_greedy and ucb1)."""

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: Any = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        self.counts = np.zeros(self.num_arms)
        self.sums = np.zeros(self.num_arms)

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        a, _, r = self._update_inputs(arms, contexts, rewards)
        np.add.at(self.counts, a, 1)
        np.add.at(self.sums, a, r)

    def _means(self) -> np.ndarray:
        return np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)

    def _arrays(self) -> dict[str, Any]:
        return {"counts": self.counts, "sums": self.sums}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        self.counts, self.sums = arrays["counts"].astype(float).copy(), arrays["sums"].astype(float).copy()


@register_selector("random")
class RandomSelector(_MeanRewards):
    config_cls = NoOptions

    def scores(self, contexts: Any) -> np.ndarray:
        return self.rng.random((len(self._contexts(contexts)), self.num_arms))


@dataclass
class FixedConfig(SelectorConfig):
    arm: int = 0

    def __post_init__(self) -> None:
        require(self.arm >= 0, f"fixed: arm must be >= 0, got {self.arm}")


@register_selector("fixed")
class FixedSelector(_MeanRewards):
    """Always the configured arm; if it is quarantined, the lowest-index allowed arm."""

    config_cls = FixedConfig

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: Any = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        require(self.config.arm < self.num_arms, f"fixed: arm {self.config.arm} is not in [0, {self.num_arms})")

    def scores(self, contexts: Any) -> np.ndarray:
        s = -np.arange(self.num_arms, dtype=np.float64) * 1e-3  # deterministic order for fallbacks
        s[self.config.arm] = 1.0
        return np.tile(s, (len(self._contexts(contexts)), 1))


@register_selector("round_robin", "sequential")
class RoundRobinSelector(_MeanRewards):
    config_cls = NoOptions

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: Any = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        self.turn = 0

    def scores(self, contexts: Any) -> np.ndarray:
        n = len(self._contexts(contexts))
        nxt = (self.turn + np.arange(n)) % self.num_arms
        # arms later in the rotation score lower, so an excluded arm is skipped to the next in line
        return -((np.arange(self.num_arms)[None, :] - nxt[:, None]) % self.num_arms).astype(np.float64)

    def select(self, contexts: Any, exclude: Optional[Iterable[int]] = None) -> np.ndarray:
        arms = super().select(contexts, exclude)
        self.turn = (self.turn + len(arms)) % self.num_arms
        return arms

    def _arrays(self) -> dict[str, Any]:
        return {**super()._arrays(), "turn": np.array(self.turn)}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        super()._load_arrays(arrays)
        self.turn = int(np.asarray(arrays["turn"]).reshape(-1)[0])


@dataclass
class EpsGreedyConfig(SelectorConfig):
    epsilon: float = 0.1

    def __post_init__(self) -> None:
        require(0 <= self.epsilon <= 1, f"eps_greedy: epsilon must be in [0, 1], got {self.epsilon}")


@register_selector("eps_greedy")
class EpsGreedySelector(_MeanRewards):
    config_cls = EpsGreedyConfig

    def scores(self, contexts: Any) -> np.ndarray:
        n = len(self._contexts(contexts))
        s = np.tile(np.where(self.counts > 0, self._means(), np.inf), (n, 1))  # try every arm once
        explore = self.rng.random(n) < self.config.epsilon
        s[explore] = self.rng.random((int(explore.sum()), self.num_arms))
        return s


@dataclass
class UCB1Config(SelectorConfig):
    c: float = 1.0

    def __post_init__(self) -> None:
        require(self.c >= 0, f"ucb1: c must be >= 0, got {self.c}")


@register_selector("ucb1")
class UCB1Selector(_MeanRewards):
    config_cls = UCB1Config

    def scores(self, contexts: Any) -> np.ndarray:
        n = len(self._contexts(contexts))
        t = max(self.counts.sum(), 1.0)
        bonus = self.config.c * np.sqrt(2 * np.log(t) / np.maximum(self.counts, 1))
        s = np.where(self.counts > 0, self._means() + bonus, np.inf)
        return np.tile(s, (n, 1))


@dataclass
class Exp3Config(SelectorConfig):
    gamma: float = 0.1

    def __post_init__(self) -> None:
        require(0 < self.gamma <= 1, f"exp3: gamma must be in (0, 1], got {self.gamma}")


@register_selector("exp3")
class Exp3Selector(Selector):
    config_cls = Exp3Config

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: Any = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        self.log_w = np.zeros(self.num_arms)  # log-weights: no overflow on long runs
        self._played_p = np.full(self.num_arms, np.nan)  # p_k at the last selection of arm k

    def probabilities(self, allowed: Optional[np.ndarray] = None) -> np.ndarray:
        w = np.exp(self.log_w - self.log_w.max())
        g = self.config.gamma
        p = (1 - g) * w / w.sum() + g / self.num_arms
        if allowed is not None:  # quarantined arms get 0 and the rest are renormalised
            p = np.where(allowed, p, 0.0)
            p = p / p.sum()
        return p

    def scores(self, contexts: Any) -> np.ndarray:
        # Gumbel-max: argmax(log p + Gumbel) is a draw from p; masking arms renormalises p.
        n = len(self._contexts(contexts))
        with np.errstate(divide="ignore"):
            return np.log(self.probabilities())[None, :] + self.rng.gumbel(size=(n, self.num_arms))

    def select(self, contexts: Any, exclude: Optional[Iterable[int]] = None) -> np.ndarray:
        arms = super().select(contexts, exclude)
        p = self.probabilities(self._allowed(exclude))
        self._played_p[arms] = p[arms]  # the importance weight must use the probability of the draw
        return arms

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        a, _, r = self._update_inputs(arms, contexts, rewards)
        for k, rk in zip(a, np.clip(r, 0.0, 1.0)):
            p = self._played_p[k] if np.isfinite(self._played_p[k]) else self.probabilities()[k]
            self.log_w[k] += self.config.gamma * rk / (p * self.num_arms)

    def _arrays(self) -> dict[str, Any]:
        return {"log_w": self.log_w, "played_p": self._played_p}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        self.log_w = arrays["log_w"].astype(np.float64).copy()
        self._played_p = arrays["played_p"].astype(np.float64).copy()
