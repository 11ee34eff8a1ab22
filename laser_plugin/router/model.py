"""BayesianRouter's offline router (Wu & Lu, "Reward Model Routing in Alignment", arXiv 2510.02850).

A frozen context encoder phi (hashing / a small embedding model / the policy's hidden states) gives
x = phi(prompt) in R^d (last column a bias 1). A learned projection A in R^{r x d} and one vector
e_k in R^r per arm score arm k as
    s_k(x) = e_k . (A x).
For every training pair p where arm w judged the pair correctly and arm l did not, the Bradley-Terry
loss is
    L = mean_{(p, w, l)} -log sigmoid(s_w(x_p) - s_l(x_p)) + wd (|A|^2 + |E|^2).
The router is linear in x, so it folds into one matrix W = E A in R^{K x d}. BT logits have no
scale, while the online bandit learns rewards in [0, 1]; so W is calibrated to arm accuracy by a
least-squares fit  correct_k(p) ~ a s_k(x_p) + b  (a > 0 keeps the ranking; b goes to the bias
column). The prior mean of the online Thompson selector is this W: x . W_k = the router's score.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class RouterConfig:
    proj_dim: int = 32  # r: width of the learned projection (capped at d)
    epochs: int = 300  # full-batch Adam steps
    lr: float = 0.05
    weight_decay: float = 1e-3
    seed: int = 0
    calibrate: bool = True  # rescale scores to P(arm correct) so online rewards in [0, 1] match the prior

    def __post_init__(self) -> None:
        if self.proj_dim < 1 or self.epochs < 1:
            raise ValueError(f"router: proj_dim and epochs must be >= 1, got {self.proj_dim}, {self.epochs}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"router: lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainedRouter:
    projection: np.ndarray  # A [r, d]
    arm_vectors: np.ndarray  # E [K, r]
    weights: np.ndarray  # W [K, d]: calibrated E A, the online prior mean
    calibration: np.ndarray  # [a, b]
    train_pairs: int  # (pair, winner, loser) triples the loss saw
    final_loss: float

    def scores(self, contexts: np.ndarray) -> np.ndarray:
        """[N, K] router scores x . W_k (higher = more likely to judge the pair correctly)."""
        return np.asarray(contexts, dtype=np.float64) @ self.weights.T

    def route(self, contexts: np.ndarray) -> np.ndarray:
        return self.scores(contexts).argmax(axis=1)


def bt_triples(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair, winner arm, loser arm) for every pair where one arm was right and another wrong."""
    c = np.asarray(correct, dtype=bool)
    k = c.shape[0]
    pw, pl = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    pw, pl = pw.reshape(-1), pl.reshape(-1)
    mask = c[pw] & ~c[pl]  # [K*K, P]
    combo, pair = np.nonzero(mask)
    return pair, pw[combo], pl[combo]


def train_router(contexts: np.ndarray, correct: np.ndarray, config: RouterConfig | None = None) -> TrainedRouter:
    import torch

    cfg = config or RouterConfig()
    x = np.asarray(contexts, dtype=np.float64)
    c = np.asarray(correct, dtype=bool)
    if x.ndim != 2 or c.ndim != 2 or c.shape[1] != x.shape[0]:
        raise ValueError(f"router: contexts [P, d] and correct [K, P] disagree: {x.shape} vs {c.shape}")
    k, d = c.shape[0], x.shape[1]
    r = min(cfg.proj_dim, d)
    pair, win, lose = bt_triples(c)
    gen = torch.Generator().manual_seed(cfg.seed)
    a = torch.nn.Parameter(torch.randn(r, d, generator=gen, dtype=torch.float64) / np.sqrt(d))
    e = torch.nn.Parameter(torch.randn(k, r, generator=gen, dtype=torch.float64) * 0.1)
    loss_value = float("nan")
    if len(pair):  # no arm ever beat another: nothing to learn, the router stays uninformative
        xt = torch.from_numpy(x)
        pt, wt, lt = (torch.from_numpy(v) for v in (pair, win, lose))
        opt = torch.optim.Adam([a, e], lr=cfg.lr)
        for _ in range(cfg.epochs):
            opt.zero_grad()
            s = (xt @ a.T) @ e.T  # [P, K]
            margin = s[pt, wt] - s[pt, lt]
            loss = torch.nn.functional.softplus(-margin).mean() + cfg.weight_decay * (a.pow(2).sum() + e.pow(2).sum())
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
    proj, vecs = a.detach().numpy().copy(), e.detach().numpy().copy()
    raw_w = vecs @ proj  # [K, d]
    calib = np.array([1.0, 0.0])
    w = raw_w
    if cfg.calibrate:
        calib = _calibration(x @ raw_w.T, c.T.astype(np.float64), has_bias=bool(np.all(x[:, -1] == 1.0)))
        w = calib[0] * raw_w
        w[:, -1] += calib[1]  # b on the bias column: x . w = a s + b for every x
    return TrainedRouter(proj, vecs, w, calib, len(pair), loss_value)


def _calibration(scores: np.ndarray, target: np.ndarray, has_bias: bool) -> np.ndarray:
    """Least squares target ~ a * scores + b over every (pair, arm), with a >= small positive."""
    s, t = scores.reshape(-1), target.reshape(-1)
    if not has_bias:  # no constant column to carry b: scale only
        a = float(s @ t / max(s @ s, 1e-12))
        return np.array([max(a, 1e-6), 0.0])
    sc = s - s.mean()
    a = float(sc @ (t - t.mean()) / max(sc @ sc, 1e-12))
    a = max(a, 1e-6)
    return np.array([a, float(t.mean() - a * s.mean())])
