"""LASeR's selector: disjoint LinUCB (Li et al. 2010; Nguyen et al., arXiv 2410.01735).

Per arm k, with ridge lambda:  A_k = lambda I + sum_t x_t x_t^T,  b_k = sum_t r_t x_t,
    theta_k = A_k^-1 b_k,   score_k(x) = x . theta_k + alpha * sqrt(x^T A_k^-1 x),   pick argmax_k.

Unlike the reference code (a full inv(A_k) per selection, O(d^3)), A_k^-1 is kept up to date with
Sherman-Morrison rank-1 updates in float64, O(d^2):
    u = A^-1 x,  c = 1 + x.u,   A^-1 <- A^-1 - u u^T / c,   theta <- theta + u (r - x.theta) / c
(the second line follows from the first: A_new^-1 x = u / c). ``u u^T`` is exactly symmetric in
floating point, so a symmetric A^-1 stays symmetric; every ``refactor_every`` updates of an arm
A^-1 is recomputed exactly from A to stop rounding drift.

Discount (forgetting, gamma < 1) for a policy that drifts while it trains:
    A <- gamma A + x x^T,  b <- gamma b + r x      (A^-1 <- A^-1 / gamma, then Sherman-Morrison).
The ridge decays with the rest; the exact refactorisation puts it back to lambda I so A stays
well conditioned in directions no longer observed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from laser_plugin.core.base import Selector, SelectorConfig, require
from laser_plugin.core.registry import register_selector


@dataclass
class LinUCBConfig(SelectorConfig):
    alpha: float = 0.1  # exploration weight (LASeR's code uses 0.1)
    ridge: float = 1.0  # lambda: A_k starts at lambda I
    discount: float = 1.0  # gamma in (0, 1]; 1 = no forgetting
    refactor_every: int = 1000  # exact A^-1 recomputation period, per arm

    def __post_init__(self) -> None:
        require(self.alpha >= 0, f"laser: alpha must be >= 0, got {self.alpha}")
        require(self.ridge > 0, f"laser: ridge must be > 0, got {self.ridge}")
        require(0 < self.discount <= 1, f"laser: discount must be in (0, 1], got {self.discount}")
        require(self.refactor_every >= 1, f"laser: refactor_every must be >= 1, got {self.refactor_every}")


@register_selector("laser", "linucb")
class LinUCB(Selector):
    config_cls = LinUCBConfig

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: LinUCBConfig | None = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        k, d, lam = self.num_arms, self.dim, self.config.ridge
        self.A = np.repeat(np.eye(d)[None] * lam, k, axis=0)
        self.A_inv = np.repeat(np.eye(d)[None] / lam, k, axis=0)
        self.b = np.zeros((k, d))
        self.theta = np.zeros((k, d))
        self.ridge_mass = np.full(k, lam)  # the lambda still in A_k after discounting
        self.counts = np.zeros(k, dtype=np.int64)
        self._since_refactor = np.zeros(k, dtype=np.int64)

    def scores(self, contexts: Any) -> np.ndarray:
        x = self._contexts(contexts)
        out = np.empty((len(x), self.num_arms))
        for k in range(self.num_arms):
            ax = x @ self.A_inv[k]  # [N, d]; A^-1 symmetric, so x A^-1 == (A^-1 x)^T
            width = np.sqrt(np.maximum(np.einsum("nd,nd->n", ax, x), 0.0))
            out[:, k] = x @ self.theta[k] + self.config.alpha * width
        return out

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        arms, x, r = self._update_inputs(arms, contexts, rewards)
        gamma = self.config.discount
        for k, xi, ri in zip(arms, x, r):
            if gamma < 1.0:
                self.A[k] *= gamma
                self.b[k] *= gamma
                self.A_inv[k] /= gamma
                self.ridge_mass[k] *= gamma  # theta = (A^-1 / gamma)(gamma b) is unchanged
            self.A[k] += np.outer(xi, xi)
            self.b[k] += ri * xi
            u = self.A_inv[k] @ xi
            c = 1.0 + xi @ u
            self.theta[k] += u * ((ri - xi @ self.theta[k]) / c)
            # In-place BLAS rank-1 update (ger): no d x d temporary, one pass over A^-1.
            v = torch.from_numpy(u / np.sqrt(c))  # v v^T: both sides identical, so exactly symmetric
            torch.from_numpy(self.A_inv[k]).addr_(v, v, alpha=-1.0)
            self.counts[k] += 1
            self._since_refactor[k] += 1
            if self._since_refactor[k] >= self.config.refactor_every:
                self.refactor(int(k))

    def refactor(self, k: int) -> None:
        """Exact A_k^-1 (and theta_k) from A_k; restores the decayed ridge when discounting."""
        if self.ridge_mass[k] < self.config.ridge:
            self.A[k] += np.eye(self.dim) * (self.config.ridge - self.ridge_mass[k])
            self.ridge_mass[k] = self.config.ridge
        inv = np.linalg.inv(self.A[k])
        self.A_inv[k] = 0.5 * (inv + inv.T)
        self.theta[k] = self.A_inv[k] @ self.b[k]
        self._since_refactor[k] = 0

    def _arrays(self) -> dict[str, Any]:
        return {"A": self.A, "A_inv": self.A_inv, "b": self.b, "theta": self.theta, "ridge_mass": self.ridge_mass,
                "counts": self.counts, "since_refactor": self._since_refactor}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        self.A, self.A_inv = arrays["A"].astype(np.float64).copy(), arrays["A_inv"].astype(np.float64).copy()
        self.b, self.theta = arrays["b"].astype(np.float64).copy(), arrays["theta"].astype(np.float64).copy()
        self.ridge_mass = arrays["ridge_mass"].astype(np.float64).copy()
        self.counts = arrays["counts"].astype(np.int64).copy()
        self._since_refactor = arrays["since_refactor"].astype(np.int64).copy()
