"""Context features for the bandit, from hidden states of the policy (or any encoder).

LASeR's reference code averaged input embeddings over padding, unnormalised, so batch contexts were
nearly identical. Here:
    h = pool(hidden, mask)            mask-aware mean, or the last real token (left or right padding)
    z = P h,  P ~ N(0, 1/m) seeded    random projection to m = dim - 1 (if bias) features
    x = [z / ||z||, 1]                L2-normalised, plus a constant bias feature
so the output has exactly ``dim`` columns. ``batch_context`` averages rows for one decision per
micro-batch and renormalises.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from laser_plugin.core.base import require
from laser_plugin.core.granularity import mean_context


def pool_hidden_states(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str = "mean") -> torch.Tensor:
    """[B, T, H] hidden states -> [B, H], ignoring padding."""
    require(mode in ("mean", "last"), f"pooling must be 'mean' or 'last', got {mode!r}")
    require(hidden.ndim == 3 and attention_mask.shape == hidden.shape[:2],
            f"hidden [B, T, H] and mask [B, T] expected, got {tuple(hidden.shape)} and {tuple(attention_mask.shape)}")
    mask = attention_mask.to(torch.float32)
    if mode == "mean":  # summed in float32: bf16 sums over long sequences lose most of their digits
        return (hidden.float() * mask[..., None]).sum(1) / mask.sum(1).clamp(min=1)[:, None]
    positions = torch.arange(mask.shape[1], device=mask.device)[None, :].expand_as(mask)
    last = torch.where(mask > 0, positions, torch.full_like(positions, -1)).max(dim=1).values.clamp(min=0)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class ContextFeaturizer:
    """Hidden states -> float64 contexts [B, dim]: pooled, projected to dim - 1 (dim without a bias;
    no projection when in_dim already equals that), L2-normalised, then the constant bias column."""

    def __init__(self, in_dim: int, dim: int, seed: int = 0, bias: bool = True, pooling: str = "mean") -> None:
        require(dim >= (2 if bias else 1), f"context dim must be >= {2 if bias else 1}, got {dim}")
        require(in_dim >= 1, f"in_dim must be >= 1, got {in_dim}")
        require(pooling in ("mean", "last"), f"pooling must be 'mean' or 'last', got {pooling!r}")
        self.in_dim, self.dim, self.seed = int(in_dim), int(dim), int(seed)
        self.bias, self.pooling = bool(bias), pooling
        m = self.dim - int(self.bias)
        if m == self.in_dim:
            self.projection = None
        else:
            rng = np.random.default_rng(seed)
            self.projection = rng.standard_normal((self.in_dim, m)) / np.sqrt(m)

    def from_pooled(self, pooled: Any) -> np.ndarray:
        h = np.asarray(pooled.float().cpu().numpy() if hasattr(pooled, "cpu") else pooled, dtype=np.float64)
        require(h.ndim == 2 and h.shape[1] == self.in_dim, f"pooled features must be [B, {self.in_dim}], got {h.shape}")
        z = h if self.projection is None else h @ self.projection
        z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return np.concatenate([z, np.ones((len(z), 1))], axis=1) if self.bias else z

    def __call__(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        return self.from_pooled(pool_hidden_states(hidden, attention_mask, self.pooling))

    def batch_context(self, rows: np.ndarray) -> np.ndarray:
        """[n, dim] rows of this featuriser -> [1, dim]: one context per micro-batch decision."""
        rows = np.asarray(rows, dtype=np.float64)
        require(rows.ndim == 2 and rows.shape[1] == self.dim, f"rows must be [n, {self.dim}], got {rows.shape}")
        out = mean_context(rows, bias=self.bias)
        if not self.bias:  # the mean of unit vectors is shorter than 1: back onto the sphere
            out /= max(float(np.linalg.norm(out)), 1e-12)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"in_dim": np.array(self.in_dim), "dim": np.array(self.dim), "seed": np.array(self.seed),
                "bias": np.array(self.bias), "pooling": self.pooling}

    def check_state(self, state: dict[str, Any]) -> None:
        """A context state saved elsewhere must describe this featuriser exactly."""
        mine = self.state_dict()
        wrong = [k for k in mine if str(np.asarray(state.get(k))) != str(np.asarray(mine[k]))]
        if wrong:
            raise ValueError(f"context features differ in {wrong}: saved {[state.get(k) for k in wrong]}, "
                             f"here {[mine[k] for k in wrong]}")
