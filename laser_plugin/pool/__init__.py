"""The reward pool: arm specs, arms, residency, grouped dispatch, normalisation, the bandit pool.

Importable without ray, openrlhf, deepspeed or vllm: the ``hf:`` arm (OpenRLHF's loader) and the
Ray actor are imported lazily by the code paths that need them.
"""
from laser_plugin.pool.arms import ArmLoadError, ArmScoringError, PoolExhaustedError, RewardArm
from laser_plugin.pool.pool import RewardPool
from laser_plugin.pool.specs import ArmSpec, parse_pool_spec
from laser_plugin.pool.types import ScoreResult, ScoringBatch

__all__ = [
    "ArmLoadError",
    "ArmScoringError",
    "ArmSpec",
    "PoolExhaustedError",
    "RewardArm",
    "RewardPool",
    "ScoreResult",
    "ScoringBatch",
    "parse_pool_spec",
]
