"""BayesianRouter's online selector: linear Thompson sampling with informative priors
(Wu & Lu, arXiv 2510.02850; Agrawal & Goyal 2013).

Per arm k, Bayesian linear regression in information form with prior N(mu0_k, (lambda0 I)^-1):
    Lambda_k = lambda0 I + sum x x^T / s^2,    b_k = lambda0 mu0_k + sum r x / s^2,
    Sigma_k = Lambda_k^-1,  mu_k = Sigma_k b_k.
That is ridge regression on rows x / s and rewards r / s with ridge lambda0 and prior mean mu0, so
it shares LinUCB's engine (``core/linear.py``: Sherman-Morrison / Woodbury in float64, periodic
exact refactorisation, forgetting by a sliding ``window`` of decisions or a ``discount`` that decays
the data toward the prior, Lambda <- gamma (Lambda - lambda0 I) + lambda0 I: the prior is never lost). With mu0_k the offline router's arm embedding e_k the
online model starts exactly at the offline router (x . e_k before any update); BayesianRouter's
released code has this prior switched off.

Drawing: the score of arm k for context x under a posterior draw w ~ N(mu_k, v^2 Sigma_k) is
    score_k = x . w ~ N(x . mu_k, v^2 x^T Sigma_k x),
so the scalar is sampled directly: no d x d factorisation per draw (the reference code re-solves
an eigendecomposition after every update). Rows of one call get independent draws.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from laser_plugin.core.base import SelectorConfig, require
from laser_plugin.core.linear import RidgeArms, RidgeSelector
from laser_plugin.core.registry import register_selector

# Default window, in decisions (see linucb.WINDOW): chosen with exploration on the family benchmark's
# tuning environments; 1500 kept regret after a drift higher (0.24 vs 0.20x random's, median).
WINDOW = 1000


# lambda0 when prior means are given and no strength is: the prior then weighs like 12-25 rewards
# along each direction (each adds |x|^2 / s^2 = 4-8 there at noise 0.5, |x|^2 = 1-2). At lambda0 = 1
# a draw's prior std (sqrt(|x|^2 / lambda0) ~ 1.4) dwarfs the prior's score gaps on [0, 1] rewards
# and throws the offline router away: benchmarks/bench_router_prior.py measured 0.94x cold-start
# regret at 1.0 and 0.22x at 100 after 100 decisions.
PRIOR_STRENGTH_WITH_PRIOR = 100.0
# lambda0 without prior means (mean 0). The draws depend on (noise s, exploration v, lambda0) only via
# lambda0 s^2 (the ridge, in rows) and v s (the draw scale). The old lambda0 = 1 at s = 0.5 is a ridge
# of 0.25 rows: a cold or forgotten arm's draw has std ~1.4 v on [0, 1] rewards, so with forgetting
# stale arms were drawn over and over. 4 (a ridge of one row, as LinUCB's) and v = 0.3 were tuned on
# benchmarks/bench_selector_family.py's tuning environments (regret / random's before a drift, median:
# v = 1, lambda0 = 1 with the window 0.24x on 8 of them; v = 0.3, lambda0 = 4: 0.09x on all 16).
PRIOR_STRENGTH_ALONE = 4.0


@dataclass
class ThompsonConfig(SelectorConfig):
    # lambda0: precision of the prior N(mu0, I / lambda0); None: PRIOR_STRENGTH_ALONE without prior means,
    # PRIOR_STRENGTH_WITH_PRIOR with them
    prior_strength: Optional[float] = None
    noise: float = 0.5  # s: reward noise std (bandit rewards live in [0, 1] after normalisation)
    exploration: float = 0.3  # v: posterior-width multiplier of the draws (tuned with PRIOR_STRENGTH_ALONE)
    prior: Optional[Any] = field(default=None)  # [K, d] prior means, or a safetensors file (key prior_mean)
    # forget: the posterior holds the last `window` decisions of all arms (0 = keep all); None = WINDOW
    # without a discount, else 0
    window: Optional[int] = None
    discount: float = 1.0  # or forget by gamma in (0, 1] per decision (then window must be 0); 1 = off
    ridge_floor: float = 0.1  # DEPRECATED, ignored: the prior no longer decays under discounting
    refactor_every: int = 1000

    def __post_init__(self) -> None:
        if self.prior_strength is None:
            self.prior_strength = PRIOR_STRENGTH_ALONE if self.prior is None else PRIOR_STRENGTH_WITH_PRIOR
        require(self.prior_strength > 0, f"thompson: prior_strength must be > 0, got {self.prior_strength}")
        require(self.noise > 0, f"thompson: noise must be > 0, got {self.noise}")
        require(self.exploration >= 0, f"thompson: exploration must be >= 0, got {self.exploration}")
        if self.window is None:
            self.window = WINDOW if self.discount == 1 else 0
        require(self.window >= 0, f"thompson: window must be >= 0 (0 = no window), got {self.window}")
        require(0 < self.discount <= 1, f"thompson: discount must be in (0, 1], got {self.discount}")
        require(self.discount == 1 or self.window == 0,
                f"thompson: choose one way to forget: discount {self.discount} or window {self.window} (set window=0)")
        require(0 < self.ridge_floor < 1, f"thompson: ridge_floor must be in (0, 1), got {self.ridge_floor}")
        require(self.refactor_every >= 1, f"thompson: refactor_every must be >= 1, got {self.refactor_every}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["prior"] = str(self.prior) if isinstance(self.prior, (str, Path)) or self.prior is None else "array"
        return out


def load_prior(prior: Union[str, Path, np.ndarray, list], num_arms: int, dim: int) -> np.ndarray:
    """Prior means [K, d] from an array or a safetensors file holding a ``prior_mean`` array."""
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
    if not np.all(np.isfinite(mu0)):
        raise ValueError("prior means contain NaN or inf")
    return mu0


@register_selector("thompson", "bayesian_router")
class LinearThompson(RidgeSelector):
    config_cls = ThompsonConfig

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: ThompsonConfig | None = None) -> None:
        super().__init__(num_arms, dim, seed, config)
        cfg = self.config
        mu0 = None if cfg.prior is None else load_prior(cfg.prior, self.num_arms, self.dim)
        self.model = RidgeArms(self.num_arms, self.dim, cfg.prior_strength, discount=cfg.discount, window=cfg.window,
                               refactor_every=cfg.refactor_every, prior_mean=mu0, row_scale=1.0 / cfg.noise)  # Lambda += x x^T / s^2

    @property
    def mu(self) -> np.ndarray:
        return self.model.theta

    def covariance(self, k: int) -> np.ndarray:
        """Sigma_k = Lambda_k^-1."""
        return self.model.inverse(k)

    @property
    def width_scale(self) -> float:
        return self.config.exploration

    def scores(self, contexts: Any) -> np.ndarray:
        mean, var = self.model.project(self._contexts(contexts))
        std = self.config.exploration * np.sqrt(var)
        return mean + std * self.rng.standard_normal(mean.shape)
