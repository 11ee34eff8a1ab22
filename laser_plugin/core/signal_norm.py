"""Signal normalisers (signal_norm): raw training signals (e.g. -loss) -> bandit rewards on a stable scale.

quantile  LASeR's rescaling (arXiv 2410.01735): with q_lo, q_hi the 20th / 80th percentiles of the
          PAST rewards (the current values are excluded from their own quantiles),
              r' = clip((r - q_lo) / (q_hi - q_lo), 0, 1),
          r' = 0.5 while the history is too short; when q_hi == q_lo (a flat history: the
          reference code divides by zero) r' = 1, 0.5 or 0 for r above, at or below it.
baseline  BayesianRouter's batch-baseline advantage: r' = r - mean(batch); a single value is
          compared with the running mean of past values instead (a one-element batch has no peers).
zscore    per-arm running z-score with the statistics of past values: r' = (r - m_k) / s_k.
Joined with '+', e.g. "baseline+quantile", they apply left to right.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from laser_plugin.core.base import require


def _as_rewards(rewards: Any) -> np.ndarray:
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    require(bool(np.all(np.isfinite(r))), f"signal_norm: rewards must be finite, got {r[~np.isfinite(r)][:4].tolist()}")
    return r


class QuantileRescale:
    def __init__(self, low: float = 0.2, high: float = 0.8, window: int = 0, min_history: int = 2) -> None:
        require(0 <= low < high <= 1, f"quantile: need 0 <= low < high <= 1, got {low}, {high}")
        require(window >= 0 and min_history >= 1, "quantile: window must be >= 0 (0 = all) and min_history >= 1")
        self.low, self.high, self.window, self.min_history = low, high, int(window), int(min_history)
        self.history = np.zeros(0)
        self._sorted: Optional[np.ndarray] = None  # window 0: the history kept sorted (O(1) quantiles)

    def _quantiles(self, past: np.ndarray) -> tuple[float, float]:
        if self.window:
            lo, hi = np.quantile(past, [self.low, self.high])
            return float(lo), float(hi)
        if self._sorted is None or len(self._sorted) != len(self.history):
            self._sorted = np.sort(self.history)
        return _sorted_quantile(self._sorted, self.low), _sorted_quantile(self._sorted, self.high)

    def __call__(self, rewards: Any, arms: Optional[np.ndarray] = None) -> np.ndarray:
        r = _as_rewards(rewards)
        past = self.history[-self.window:] if self.window else self.history
        out = np.full(r.shape, 0.5)
        if len(past) >= self.min_history:
            lo, hi = self._quantiles(past)
            if hi - lo > 1e-12 * max(1.0, abs(lo), abs(hi)):
                out = np.clip((r - lo) / (hi - lo), 0.0, 1.0)
            else:  # degenerate quantiles: the limit of the rescaling, a step at lo
                out = 0.5 + 0.5 * np.sign(r - lo)
        self.history = np.concatenate([self.history, r])
        if not self.window and self._sorted is not None:  # insert in place of a re-sort: O(n) memmove
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, np.sort(r)), np.sort(r))
        if self.window and len(self.history) > 4 * self.window:
            self.history = self.history[-self.window:]  # bounded memory on long runs
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = np.asarray(state["history"], dtype=np.float64).copy()
        self._sorted = None


def _sorted_quantile(a: np.ndarray, q: float) -> float:
    """np.quantile(a, q) (its default 'linear' method, the same floating-point steps) for a sorted a."""
    pos = q * (len(a) - 1)
    i = int(np.floor(pos))
    j = min(i + 1, len(a) - 1)
    t = pos - i
    diff = a[j] - a[i]
    return float(a[j] - diff * (1.0 - t)) if t >= 0.5 else float(a[i] + diff * t)


class BatchBaseline:
    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def __call__(self, rewards: Any, arms: Optional[np.ndarray] = None) -> np.ndarray:
        r = _as_rewards(rewards)
        if len(r) > 1:
            out = r - r.mean()
        else:
            out = r - (self.total / self.count if self.count else r)
        self.total += float(r.sum())
        self.count += len(r)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"total": np.array(self.total), "count": np.array(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total, self.count = float(np.asarray(state["total"])), int(np.asarray(state["count"]))


class RunningZScore:
    def __init__(self, per_arm: bool = True, max_arms: int = 1024) -> None:
        require(max_arms >= 1, f"zscore: max_arms must be >= 1, got {max_arms}")
        self.per_arm = per_arm
        self.n = np.zeros(max_arms if per_arm else 1)
        self.mean = np.zeros_like(self.n)
        self.m2 = np.zeros_like(self.n)

    def __call__(self, rewards: Any, arms: Optional[np.ndarray] = None) -> np.ndarray:
        r = _as_rewards(rewards)
        if not self.per_arm or arms is None:
            keys = np.zeros(len(r), dtype=np.int64)
        else:
            keys = np.asarray(arms, dtype=np.int64).reshape(-1)
            require(len(keys) == len(r), f"zscore: {len(keys)} arms for {len(r)} rewards")
            require(bool(np.all((keys >= 0) & (keys < len(self.n)))),
                    f"zscore: arms must be in [0, {len(self.n)}) (raise max_arms), got {keys.tolist()[:8]}")
        out = np.zeros(len(r))
        for i, (k, v) in enumerate(zip(keys, r)):
            if self.n[k] >= 2:
                std = np.sqrt(self.m2[k] / (self.n[k] - 1))
                out[i] = (v - self.mean[k]) / std if std > 1e-12 else 0.0
        for k, v in zip(keys, r):  # Welford, after scoring: the current value is not its own baseline
            self.n[k] += 1
            delta = v - self.mean[k]
            self.mean[k] += delta / self.n[k]
            self.m2[k] += delta * (v - self.mean[k])
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n.copy(), "mean": self.mean.copy(), "m2": self.m2.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n, self.mean, self.m2 = (np.asarray(state[k], dtype=np.float64).copy() for k in ("n", "mean", "m2"))


class Identity:
    def __call__(self, rewards: Any, arms: Optional[np.ndarray] = None) -> np.ndarray:
        return _as_rewards(rewards)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Chain:
    def __init__(self, steps: list[Any], names: list[str]) -> None:
        self.steps, self.names = steps, names

    def __call__(self, rewards: Any, arms: Optional[np.ndarray] = None) -> np.ndarray:
        out = _as_rewards(rewards)
        for step in self.steps:
            out = step(out, arms)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {f"{i}_{name}": step.state_dict() for i, (name, step) in enumerate(zip(self.names, self.steps))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = [f"{i}_{name}" for i, name in enumerate(self.names)]
        if sorted(state) != sorted(expected):
            raise ValueError(f"signal_norm state has parts {sorted(state)}, this normaliser has {expected}")
        for key, step in zip(expected, self.steps):
            step.load_state_dict(state[key])


NORMALISERS = {"quantile": QuantileRescale, "baseline": BatchBaseline, "zscore": RunningZScore, "none": Identity}


def make_signal_norm(spec: str = "quantile") -> Chain:
    """Parse "quantile", "baseline+quantile", ... into a composable normaliser."""
    names = [p.strip() for p in str(spec).split("+") if p.strip()]
    bad = [n for n in names if n not in NORMALISERS]
    if not names or bad:
        raise ValueError(f"unknown signal normaliser {bad or spec!r}; valid: {', '.join(NORMALISERS)} "
                         "(join several with '+', e.g. baseline+quantile)")
    return Chain([NORMALISERS[n]() for n in names], names)
