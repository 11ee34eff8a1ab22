"""Training order for one round's pairs: grouped by bandit decision, identical across ranks.

Why not OpenRLHF's shuffling DistributedSampler: (1) with pairs of one decision kept together, most
optimizer steps train on one RM's preferences, so the probe signal (loss change across a step) is
credited to one arm rather than smeared over several; (2) ranks walk one global order in lockstep:
global micro-step t is ``order[t*mb*W:(t+1)*mb*W]`` and rank r takes its r-th slice, so the
per-micro-batch all-gather of feedback always meets the same decisions on every rank.

The order is truncated to a multiple of the global batch so a round never leaves half-accumulated
gradients for the next round's (different) policy; the dropped tail is reported.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


class DecisionGroupedOrder:
    """An index sampler (iterable of dataset indices with ``len``) for one rank."""

    def __init__(self, decision_of_row: Sequence[int], micro_batch_size: int, global_batch_size: int,
                 world_size: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True) -> None:
        if micro_batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad micro_batch_size/world_size/rank: {micro_batch_size}/{world_size}/{rank}")
        if global_batch_size % (micro_batch_size * world_size):
            raise ValueError(f"global batch {global_batch_size} must be a multiple of micro batch x world size "
                             f"({micro_batch_size} x {world_size})")
        decisions = np.asarray(decision_of_row, dtype=np.int64).reshape(-1)
        rng = np.random.default_rng(seed)
        uniq = list(dict.fromkeys(decisions.tolist()))  # first-appearance order
        if shuffle:
            uniq = [uniq[i] for i in rng.permutation(len(uniq))]
        order: list[int] = []
        for d in uniq:
            rows = np.flatnonzero(decisions == d)
            order.extend((rng.permutation(rows) if shuffle else rows).tolist())
        keep = len(order) // global_batch_size * global_batch_size
        self.global_order = order[:keep]
        self.dropped = order[keep:]
        span = micro_batch_size * world_size
        self._indices = [i for t in range(0, keep, span) for i in order[t + rank * micro_batch_size: t + (rank + 1) * micro_batch_size]]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices)

    def __len__(self) -> int:
        return len(self._indices)

    def trained_counts(self, decision_of_row: Sequence[int]) -> dict[int, int]:
        """Rows per decision that will be trained (over all ranks)."""
        decisions = np.asarray(decision_of_row, dtype=np.int64)
        ids, counts = np.unique(decisions[self.global_order], return_counts=True) if self.global_order else ([], [])
        return {int(i): int(c) for i, c in zip(ids, counts)}


__all__ = ["DecisionGroupedOrder"]
