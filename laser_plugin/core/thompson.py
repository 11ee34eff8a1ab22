"""BayesianRouter's online selector: linear Thompson sampling with informative priors
(Wu & Lu, arXiv 2510.02850; Agrawal & Goyal 2013).

Per arm k, Bayesian linear regression in information form with prior N(mu0_k, (lambda0 I)^-1):
    Lambda_k = lambda0 I + sum x x^T / s^2,    b_k = lambda0 mu0_k + sum r x / s^2,
    Sigma_k = Lambda_k^-1,  mu_k = Sigma_k b_k.
With mu0_k the offline router's arm embedding e_k the online model starts exactly at the offline
router (expected score x . e_k before any update), which BayesianRouter's released code never
does (its prior is switched off).

Drawing: the score of arm k for context x under a posterior draw w ~ N(mu_k, v^2 Sigma_k) is
    s_k = x . w ~ N(x . mu_k, v^2 x^T Sigma_k x),
so we sample that scalar directly: no d x d factorisation per draw (the reference code re-solves
an eigendecomposition after every update). Updates are Sherman-Morrison in float64:
    u = Sigma x,  c = s^2 + x.u,  Sigma <- Sigma - u u^T / c,  mu <- mu + u (r - x.mu) / c.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from laser_plugin.core.base import Selector, SelectorConfig, require
from laser_plugin.core.registry import register_selector


@dataclass
class ThompsonConfig(SelectorConfig):
    prior_strength: float = 1.0  # lambda0: precision of the prior N(mu0, I / lambda0)
    noise: float = 0.5  # s: reward noise std (bandit rewards live in [0, 1] after normalisation)
    exploration: float = 1.0  # v: posterior-width multiplier of the draws
    prior: Optional[Any] = field(default=None)  # [K, d] prior means, or a safetensors file (key prior_mean)
    refactor_every: int = 1000

    def __post_init__(self) -> None:
        require(self.prior_strength > 0, f"thompson: prior_strength must be > 0, got {self.prior_strength}")
        require(self.noise > 0, f"thompson: noise must be > 0, got {self.noise}")
        require(self.exploration >= 0, f"thompson: exploration must be >= 0, got {self.exploration}")
        require(self.refactor_every >= 1, f"thompson: refactor_every must be >= 1, got {self.refactor_every}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["prior"] = self.prior if isinstance(self.prior, (str, type(None))) else "array"
        return out


def load_prior(prior: Union[str, Path, np.ndarray, list], num_arms: int, dim: int) -> np.ndarray:
    """Prior means [K, d] from an array or a file written by ``laser-plugin train-router``."""
    if isinstance(prior, (str, Path)):
        from laser_plugin.core.state_io import load_state

        state = load_state(prior)
        if "prior_mean" not in state:
            raise ValueError(f"prior file {prior} has no 'prior_mean' array (keys: {sorted(state)[:8]})")
        prior = state["prior_mean"]
    mu0 = np.asarray(prior, dtype=np.float64)
    if mu0.shape != (num_arms, dim):
        raise ValueError(f"prior means have shape {mu0.shape}, but this selector has K={num_arms} arms and "
                         f"d={dim}: train the router on the same pool and context encoder")
    return mu0


@register_selector("thompson", "bayesian_router")
class LinearThompson(Selector):
    config_cls = ThompsonConfig

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: ThompsonConfig | None = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        k, d, lam = self.num_arms, self.dim, self.config.prior_strength
        mu0 = np.zeros((k, d)) if self.config.prior is None else load_prior(self.config.prior, k, d)
        self.Lambda = np.repeat(np.eye(d)[None] * lam, k, axis=0)
        self.Sigma = np.repeat(np.eye(d)[None] / lam, k, axis=0)
        self.b = lam * mu0
        self.mu = mu0.copy()
        self.counts = np.zeros(k, dtype=np.int64)
        self._since_refactor = np.zeros(k, dtype=np.int64)

    def expected_scores(self, contexts: Any) -> np.ndarray:
        """Posterior-mean scores x . mu_k (before any update: the offline router's scores)."""
        return self._contexts(contexts) @ self.mu.T

    def scores(self, contexts: Any) -> np.ndarray:
        x = self._contexts(contexts)
        mean = x @ self.mu.T
        var = np.stack([np.einsum("nd,nd->n", x @ self.Sigma[k], x) for k in range(self.num_arms)], axis=1)
        std = self.config.exploration * np.sqrt(np.maximum(var, 0.0))
        return mean + std * self.rng.standard_normal(mean.shape)

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        arms, x, r = self._update_inputs(arms, contexts, rewards)
        s2 = self.config.noise ** 2
        for k, xi, ri in zip(arms, x, r):
            self.Lambda[k] += np.outer(xi, xi) / s2
            self.b[k] += ri * xi / s2
            u = self.Sigma[k] @ xi
            c = s2 + xi @ u
            self.mu[k] += u * ((ri - xi @ self.mu[k]) / c)
            v = torch.from_numpy(u / np.sqrt(c))  # v v^T: both sides identical, so exactly symmetric
            torch.from_numpy(self.Sigma[k]).addr_(v, v, alpha=-1.0)
            self.counts[k] += 1
            self._since_refactor[k] += 1
            if self._since_refactor[k] >= self.config.refactor_every:
                inv = np.linalg.inv(self.Lambda[k])
                self.Sigma[k] = 0.5 * (inv + inv.T)
                self.mu[k] = self.Sigma[k] @ self.b[k]
                self._since_refactor[k] = 0

    def _arrays(self) -> dict[str, Any]:
        return {"Lambda": self.Lambda, "Sigma": self.Sigma, "b": self.b, "mu": self.mu, "counts": self.counts,
                "since_refactor": self._since_refactor}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        for key in ("Lambda", "Sigma", "b", "mu"):
            setattr(self, key, arrays[key].astype(np.float64).copy())
        self.counts = arrays["counts"].astype(np.int64).copy()
        self._since_refactor = arrays["since_refactor"].astype(np.int64).copy()
