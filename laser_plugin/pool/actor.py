"""BanditRewardPool as a Ray actor (one process holding the whole pool).

``ray`` is imported inside the function, so importing this module (or ``laser_plugin.pool``) never
pulls Ray in. The remote actor has the plain class's methods: ``score``, ``update``, ``metrics``,
``state_dict``/``load_state_dict``, ``save``/``load``. For RMs too large for one device see
``laser_plugin.adapters.openrlhf.ppo.pool_actor_group`` (ZeRO-3 shards across actors and nodes).
"""
from __future__ import annotations

from typing import Any, Optional


def create_bandit_reward_pool_actor(
    *,
    num_cpus: float = 1,
    num_gpus: float = 0,
    scheduling_strategy: Any = None,
    runtime_env: Optional[dict[str, Any]] = None,
    resources: Optional[dict[str, float]] = None,
    name: Optional[str] = None,
    **bandit_pool_kwargs: Any,
):
    """Start a ``BanditRewardPool`` actor and return its handle.

    ``bandit_pool_kwargs`` go to ``BanditRewardPool(...)`` (``pool`` = specs, plus ``pool_kwargs``
    for the RewardPool: residency, device, micro_batch_size, ...). With ``num_gpus`` >= 1 and no
    explicit ``device`` the pool uses the GPU Ray assigned (``device="auto"``).
    """
    import ray

    from laser_plugin.pool.bandit_pool import BanditRewardPool

    if num_gpus:
        bandit_pool_kwargs["pool_kwargs"] = {"device": "auto", **(bandit_pool_kwargs.get("pool_kwargs") or {})}
    options: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus}
    if scheduling_strategy is not None:
        options["scheduling_strategy"] = scheduling_strategy
    if runtime_env is not None:
        options["runtime_env"] = runtime_env
    if resources:
        options["resources"] = resources
    if name:
        options["name"] = name
    # Wrapped here, not at import: ray.remote at module level would import ray with the pool.
    remote_cls = ray.remote(BanditRewardPool)
    return remote_cls.options(**options).remote(**bandit_pool_kwargs)
