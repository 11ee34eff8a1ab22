"""The one place the OpenRLHF adapters build a ``BanditRewardPool`` from the ``--reward_selector`` flags
(``LaserConfig``): iterative DPO, best-of-n and evaluate (arms in this process) and PPO/GRPO (arms in
OpenRLHF's reward actor group, handed in as ``pool``) get the same selector, signal normaliser,
context encoder, granularity and router-prior check."""
from __future__ import annotations

from typing import Any, Optional

from laser_plugin.config import LaserConfig
from laser_plugin.pool.bandit_pool import BanditRewardPool
from laser_plugin.pool.pool import RewardPool
from laser_plugin.pool.specs import parse_pool_spec


def make_bandit(config: LaserConfig, *, pool: Optional[RewardPool] = None, tokenizer: Any = None,
                load: bool = True) -> BanditRewardPool:
    """``pool``: arms already placed (PPO's reward group); else the arms of ``config.pool`` are built
    here, on the accelerator when there is one (``tokenizer``: the policy's, for ``hf:`` arms with
    their own). ``load``: load every arm now, so that a broken one fails at start, by name."""
    from laser_plugin.router.prior import check_pool_prior

    names = pool.arm_names if pool is not None else [s.name for s in parse_pool_spec(config.pool)]
    # a router prior trained on other arms or contexts would steer silently wrong: refuse it first
    check_pool_prior(config.selector_options, names, config.context_dim, config.context_encoder, config.seed)
    if pool is None:
        import torch

        pool = RewardPool(config.pool, residency=config.residency, quarantine_s=config.quarantine_s,
                          policy_tokenizer=tokenizer, device="cuda" if torch.cuda.is_available() else "cpu")
    return BanditRewardPool(pool, selector=config.selector, selector_config=dict(config.selector_options),
                            signal_norm=config.signal_norm, context_dim=config.context_dim,
                            granularity=config.granularity, context_encoder=config.context_encoder,
                            seed=config.seed, load=load, explore_by=config.explore_by or "training")


def check_prior_contexts(config: LaserConfig, context: str) -> None:
    """Before any model loads: a router prior fits this pool (arms, encoder, d, seed), and its prior
    means live in the router encoder's context space, so contexts from the policy's hidden states
    (``--laser.context policy``) would be steered by a prior learned on other features."""
    from laser_plugin.router.prior import check_pool_prior

    names = [s.name for s in parse_pool_spec(config.pool)]
    router = check_pool_prior(config.selector_options, names, config.context_dim, config.context_encoder, config.seed)
    if router is not None and context == "policy":
        raise ValueError(
            f"--reward_selector.prior {config.selector_options['prior']} is a router trained on "
            f"{router.encoder.name} contexts of the prompt text, but --laser.context policy gives the bandit the "
            "policy's hidden states: add --laser.context encoder (with --reward_selector.context_encoder "
            f"{router.encoder.name}, as the router was trained)")


def make_featurizer(hidden_size: int, config: LaserConfig) -> Any:
    """Bandit contexts from the policy's own hidden states (``--laser.context policy``)."""
    from laser_plugin.core.features import ContextFeaturizer

    return ContextFeaturizer(hidden_size, config.context_dim, seed=config.seed, bias=True, pooling="last")


__all__ = ["check_prior_contexts", "make_bandit", "make_featurizer"]
