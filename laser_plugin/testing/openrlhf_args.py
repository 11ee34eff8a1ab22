"""OpenRLHF strategy objects for tests and dry runs (thin wrappers over the adapter's builder)."""
from __future__ import annotations

from laser_plugin.adapters.openrlhf.strategy import make_strategy


def reward_actor_strategy(zero_stage: int = 0, param_dtype: str = "bf16"):
    """The strategy OpenRLHF's RewardModelActor expects, as train_ppo_ray would build it."""
    return make_strategy(**{"ds.zero_stage": zero_stage, "ds.param_dtype": param_dtype})
