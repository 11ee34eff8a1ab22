"""The reward pool as an OpenRLHF actor group: for RMs too large for one device.

Each rank is a ``PoolShardActor`` (a subclass of OpenRLHF's ``BaseModelActor``) placed by OpenRLHF's
``RayActorGroup`` (optionally on a caller's placement group, e.g. STRICT_SPREAD across nodes). It
initialises torch.distributed through OpenRLHF's DeepspeedStrategy and loads every ``hf:`` arm
with ``strategy.get_ds_eval_config()`` (ZeRO-3: each rank holds 1/W of every RM) and
``strategy.prepare``. Rows are split data-parallel over the ranks.

ZeRO-3 gathers parameters with collectives inside every forward, so all ranks must run the same
number of forwards of the same arm: ``score_arm`` pads every shard to the same row count (repeating
rows, dropped afterwards), and the driver-side ``RewardPool`` (``as_pool``) dispatches one arm at a
time, so normalisation, quarantine and fallback decisions are made once, on the driver.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np
import ray

from laser_plugin.pool.arms import ArmScoringError, RewardArm
from laser_plugin.pool.pool import RewardPool
from laser_plugin.pool.specs import ArmSpec, parse_pool_spec
from laser_plugin.pool.types import ScoringBatch
from openrlhf.trainer.ray.launcher import BaseModelActor, RayActorGroup


class _PoolShard(BaseModelActor):
    def init_model_from_pretrained(self, strategy: Any, specs: Sequence[ArmSpec], pool_kwargs: Optional[dict] = None):
        self._setup_distributed(strategy)
        kwargs = {"device": "auto", **(pool_kwargs or {})}
        self.pool = RewardPool(list(specs), strategy=strategy, **kwargs)
        self.pool.load_all(preload=True)  # all ranks load together: zero.Init partitions collectively
        return self.pool.arm_names

    def score_shard(self, batch: ScoringBatch, arm: int) -> np.ndarray:
        try:
            return self.pool.score_raw(batch, arm, scale=False)  # the driver applies score_scale
        except ArmScoringError as err:
            if err.garbage:  # let the driver see the NaN/inf and quarantine, as for a local arm
                return np.full(len(batch), np.nan)
            raise

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def metrics(self) -> dict[str, float]:
        return self.pool.metrics()


PoolShardActor = ray.remote(num_gpus=1)(_PoolShard)


class PoolActorGroup:
    """``num_nodes`` x ``num_gpus_per_node`` pool shards; ``as_pool()`` gives the driver-side pool.

    ``strategy``: an OpenRLHF DeepspeedStrategy (``adapters.openrlhf.strategy.make_strategy``), e.g.
    ``ds.zero_stage=3``; its ``train.batch_size`` must be a multiple of the world size (DeepSpeed's
    batch arithmetic). ``pg``: a placement group with one {"GPU": 1, "CPU": 1} bundle per rank (e.g.
    STRICT_SPREAD over nodes); None lets RayActorGroup PACK one itself.
    """

    def __init__(
        self,
        specs: Any,
        strategy: Any,
        *,
        num_nodes: int = 1,
        num_gpus_per_node: int = 1,
        pg: Any = None,
        num_gpus_per_actor: float = 1,
        pool_kwargs: Optional[dict[str, Any]] = None,
    ) -> None:
        self.specs = specs if isinstance(specs, list) and all(isinstance(s, ArmSpec) for s in specs) else parse_pool_spec(specs)
        self.group = RayActorGroup(num_nodes, num_gpus_per_node, PoolShardActor, pg=pg,
                                   num_gpus_per_actor=num_gpus_per_actor)
        self.actors = list(self.group._actor_handlers)
        ray.get(self.group.async_init_model_from_pretrained(strategy, self.specs, pool_kwargs))

    @property
    def world_size(self) -> int:
        return len(self.actors)

    def node_ids(self) -> list[str]:
        return ray.get([a.node_id.remote() for a in self.actors])

    def score_arm(self, batch: ScoringBatch, arm: int) -> np.ndarray:
        """Raw scores of ``arm`` for every row, rows split evenly over the ranks."""
        n, world = len(batch), self.world_size
        per = math.ceil(n / world)
        shards = []
        for rank in range(world):
            rows = np.arange(rank * per, min(n, (rank + 1) * per))
            pad = np.resize(np.arange(n), per - len(rows))  # repeat real rows: same forwards on every rank
            shards.append((rows, batch.select(np.concatenate([rows, pad]).astype(np.int64))))
        outs = ray.get([a.score_shard.remote(sub, arm) for a, (_, sub) in zip(self.actors, shards)])
        raw = np.empty(n, dtype=np.float64)
        for (rows, _), out in zip(shards, outs):
            raw[rows] = np.asarray(out, dtype=np.float64)[: len(rows)]
        return raw

    def as_pool(self, **pool_kwargs: Any) -> RewardPool:
        """A RewardPool on the driver whose arms run on this group (usable by BanditRewardPool)."""
        return RewardPool(list(self.specs), arm_factory=lambda spec: _ShardedArm(spec, self), **pool_kwargs)

    def metrics(self) -> list[dict[str, float]]:
        return ray.get([a.metrics.remote() for a in self.actors])


class _ShardedArm(RewardArm):
    """Driver-side stand-in for an arm that lives on the group (validated there at init)."""

    def __init__(self, spec: ArmSpec, group: PoolActorGroup) -> None:
        super().__init__(spec)
        self._group = group
        self._index = [s.name for s in group.specs].index(spec.name)

    def score(self, batch: ScoringBatch, batch_size: int) -> np.ndarray:
        return self._group.score_arm(batch, self._index)
