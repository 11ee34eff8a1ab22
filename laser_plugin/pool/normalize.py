"""Per-arm running score normalisation, so arms on different scales give comparable rewards.

Each arm keeps a running mean and variance of its raw scores (Chan et al.'s parallel update of
Welford's algorithm, exact for any batch split). A batch is folded into its arm's statistics first
and then standardised, z = (x - mean) / max(std, eps): the first batch of an arm is already centred,
and a constant arm (std 0) maps to 0 instead of blowing up.
"""
from __future__ import annotations

import numpy as np

MODES = ("running", "none")


class ArmNormalizer:
    def __init__(self, num_arms: int, mode: str = "running", eps: float = 1e-6) -> None:
        if mode not in MODES:
            raise ValueError(f"normalize must be one of {MODES}, got {mode!r}")
        if num_arms < 1:
            raise ValueError("num_arms must be >= 1")
        self.mode, self.eps = mode, float(eps)
        self.count = np.zeros(num_arms, dtype=np.float64)
        self.mean = np.zeros(num_arms, dtype=np.float64)
        self.m2 = np.zeros(num_arms, dtype=np.float64)

    def update(self, arm: int, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        n_a, n_b = self.count[arm], float(x.size)
        mean_b = float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        n = n_a + n_b
        delta = mean_b - self.mean[arm]
        self.mean[arm] += delta * n_b / n
        self.m2[arm] += m2_b + delta**2 * n_a * n_b / n
        self.count[arm] = n

    def std(self, arm: int) -> float:
        n = self.count[arm]
        return float(np.sqrt(self.m2[arm] / n)) if n > 0 else 1.0

    def apply(self, arm: int, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if self.mode == "none":
            return x
        return (x - self.mean[arm]) / max(self.std(arm), self.eps)

    def __call__(self, arm: int, values: np.ndarray) -> np.ndarray:
        """Fold ``values`` into the arm's statistics, then standardise them."""
        if self.mode != "none":
            self.update(arm, values)
        return self.apply(arm, values)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"count": self.count.copy(), "mean": self.mean.copy(), "m2": self.m2.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for key in ("count", "mean", "m2"):
            value = np.asarray(state[key], dtype=np.float64)
            if value.shape != self.count.shape:
                raise ValueError(f"normaliser state {key!r} has shape {value.shape}, expected {self.count.shape}")
            setattr(self, key, value.copy())
