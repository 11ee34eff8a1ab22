"""Keeping one bandit state on every rank (torch.distributed; a no-op with one process).

The bandit decides on rank 0 only (it scores, so only its RNG advances and only it holds pending
decisions); results are broadcast, per-micro-batch feedback is all-gathered so rank 0 sees every
rank's rows, and after each round rank 0's full state is broadcast and loaded everywhere. Then every
rank checkpoints, logs and resumes from the same state, whatever selector (deterministic LinUCB or
sampling Thompson) is used.
"""
from __future__ import annotations

from typing import Any, Optional

import torch.distributed as dist


class RankSync:
    def __init__(self, group: Optional[Any] = None) -> None:
        self.group = group
        self.enabled = dist.is_available() and dist.is_initialized()
        self.world_size = dist.get_world_size(group) if self.enabled else 1
        self.rank = dist.get_rank(group) if self.enabled else 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (other ranks' argument is ignored)."""
        if self.world_size == 1:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def shard(self, items: list[Any]) -> list[Any]:
        """This rank's strided share of ``items`` (``gather`` + ``unshard`` restores the order)."""
        return items[self.rank::self.world_size]

    def unshard(self, parts: list[list[Any]]) -> list[Any]:
        total = sum(len(p) for p in parts)
        out: list[Any] = [None] * total
        for r, part in enumerate(parts):
            out[r::self.world_size] = part
        return out

    def check_same_state(self, obj: Any) -> str:
        """Digest of ``obj.state_dict()``; raises if any rank's digest differs from rank 0's."""
        digests = self.gather(state_digest(obj.state_dict()))
        if len(set(digests)) != 1:
            raise RuntimeError(f"bandit state differs between ranks: {digests}")
        return digests[0]

    def sync_state(self, obj: Any) -> None:
        """Make ``obj`` (anything with state_dict/load_state_dict) equal rank 0's on every rank."""
        if self.world_size == 1:
            return
        state = self.broadcast(obj.state_dict() if self.is_main else None)
        if not self.is_main:
            obj.load_state_dict(state)


def state_digest(state: dict) -> str:
    """A stable hash of a flat {name: array-like} state."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for key in sorted(state):
        arr = np.ascontiguousarray(np.asarray(state[key]))
        h.update(key.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()[:16]


__all__ = ["RankSync", "state_digest"]
