"""Data that crosses the pool boundary: what is scored, and what comes back.

Kept free of torch/ray/openrlhf imports so every layer (core callers, Ray actor, adapters) can
exchange these objects; Ray pickles them as plain dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


@dataclass
class ScoringBatch:
    """Samples to score. ``queries`` are full texts (prompt + response) in the policy's format, as
    OpenRLHF's ``reward_func`` and ``serve_rm`` receive them; ``prompts``/``responses`` split them.

    ``sequences``/``attention_mask`` (policy-tokenizer ids, e.g. from OpenRLHF's experience maker)
    are optional: an ``hf:`` arm that shares the policy tokenizer scores them directly, any other arm
    works from text. ``group_ids`` mark samples that answer the same prompt (GRPO groups, DPO's N
    samples per prompt): a row-level decision never splits a group.
    """

    queries: list[str]
    prompts: list[str]
    responses: list[str]
    labels: Optional[list[Any]] = None
    group_ids: Optional[np.ndarray] = None
    sequences: Any = None  # torch.LongTensor [N, T] in the policy tokenizer, optional
    attention_mask: Any = None  # torch.Tensor [N, T], optional
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.queries)
        if len(self.prompts) != n or len(self.responses) != n:
            raise ValueError(
                f"ScoringBatch: queries ({n}), prompts ({len(self.prompts)}) and responses "
                f"({len(self.responses)}) must have one entry per sample"
            )
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"ScoringBatch: labels has {len(self.labels)} entries for {n} samples")
        if self.group_ids is not None:
            self.group_ids = np.asarray(self.group_ids)
            if self.group_ids.shape != (n,):
                raise ValueError(f"ScoringBatch: group_ids must have shape ({n},), got {self.group_ids.shape}")

    def __len__(self) -> int:
        return len(self.queries)

    def select(self, index: np.ndarray) -> "ScoringBatch":
        """The rows at ``index`` (used for per-arm grouped dispatch)."""
        idx = np.asarray(index, dtype=np.int64)
        pick = lambda xs: None if xs is None else [xs[i] for i in idx]  # noqa: E731
        return ScoringBatch(
            queries=pick(self.queries),
            prompts=pick(self.prompts),
            responses=pick(self.responses),
            labels=pick(self.labels),
            group_ids=None if self.group_ids is None else self.group_ids[idx],
            sequences=None if self.sequences is None else self.sequences[idx],
            attention_mask=None if self.attention_mask is None else self.attention_mask[idx],
            extra=dict(self.extra),
        )


@dataclass
class ScoreResult:
    """Rewards for a batch, in input order, with the arm that produced each (-1: all arms, an
    ensemble) and a decision id per sample so delayed feedback reaches the decision that caused it."""

    rewards: np.ndarray  # float32 [N], normalised per arm
    arms: np.ndarray  # int64 [N]
    decision_ids: np.ndarray  # int64 [N]
    raw_scores: Optional[np.ndarray] = None  # float [N] (or [K, N] for ensembles) before normalisation
    info: dict[str, Any] = field(default_factory=dict)
