"""What OpenRLHF's reward-model group runs when ``--reward_selector`` is on.

``train_ppo_ray`` builds ``RayActorGroup(reward.num_nodes, reward.num_gpus_per_node,
RewardModelActor, pg=...)`` and calls ``init_model_from_pretrained(strategy, pretrain)`` on it. With
the plugin active the class is ``LaserRewardShard``: same placement (GPUs, nodes, colocation
placement group) and the same DeepSpeed strategy (ZeRO-3 eval config for large RMs), but each
rank hosts a shard of the whole reward pool instead of one RM. The bandit in the PPOTrainer
process (``experience.py``) decides which arm scores; the shards only score.
"""
from __future__ import annotations

from typing import Any

import ray

from laser_plugin.adapters.openrlhf.ppo.pool_actor_group import _PoolShard
from laser_plugin.config import POOL_SENTINEL, LaserConfig
from laser_plugin.pool.specs import parse_pool_spec


class _LaserRewardShard(_PoolShard):
    def init_model_from_pretrained(self, strategy: Any, pretrain: str = POOL_SENTINEL, *args: Any) -> list[str]:
        config = LaserConfig.from_env()
        if config is None:
            raise RuntimeError("LaserRewardShard started without LASER_PLUGIN_CONFIG (laser_plugin not activated)")
        pool_kwargs = {
            "residency": config.residency,
            "quarantine_s": config.quarantine_s,
            "policy_tokenizer": strategy.args.actor.model_name_or_path,
        }
        return super().init_model_from_pretrained(strategy, parse_pool_spec(config.pool), pool_kwargs)

    def forward(self, *args: Any, **kwargs: Any):
        raise RuntimeError(
            "the laser_plugin reward pool scores through the bandit (LaserExperienceMaker); upstream "
            "asked it for a plain RM forward, which means the experience-maker hook is not installed"
        )


LaserRewardShard = ray.remote(num_gpus=1)(_LaserRewardShard)
