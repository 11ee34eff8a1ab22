"""OpenRLHF strategy objects for tests and dry runs (thin wrappers over the adapter's builder)."""
from __future__ import annotations

from laser_plugin.adapters.openrlhf.strategy import make_strategy


def reward_actor_strategy(zero_stage: int = 0, param_dtype: str | None = None):
    """The strategy OpenRLHF's RewardModelActor expects, as train_ppo_ray would build it
    (``param_dtype`` None: the CPU dtype policy's choice, bf16 on GPU)."""
    dtype = {} if param_dtype is None else {"ds.param_dtype": param_dtype}
    return make_strategy(**{"ds.zero_stage": zero_stage, **dtype})
