"""Validated options of the reward pool and the bandit pool (the keyword arguments of
``RewardPool`` and ``BanditRewardPool``, checked once in ``__post_init__``)."""
from __future__ import annotations

from dataclasses import dataclass

from laser_plugin.core.base import check_context_dim
from laser_plugin.core.exploration import check_explore_by
from laser_plugin.core.granularity import check_granularity

NORMALIZE_MODES = ("running", "none")
OFFLOAD_MODES = ("auto", "cpu", "unload")


@dataclass
class PoolConfig:
    residency: int = 1  # device-holding (hf) arms kept on the device at once, LRU beyond that
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", or "auto" (cuda when available)
    normalize: str = "running"  # per-arm running z-score of raw scores, or "none"
    quarantine_s: float = 300.0  # how long a failing arm is excluded
    max_consecutive_failures: int = 3  # failures in a row that quarantine an arm (NaN/inf: at once)
    micro_batch_size: int = 16  # rows per forward inside an arm (an arm's batch_size overrides)
    offload: str = "auto"  # evicted arms: "cpu" (host memory), "unload" (drop), auto: unload on CPU

    def __post_init__(self) -> None:
        if self.residency < 1:
            raise ValueError(f"residency must be >= 1, got {self.residency}")
        if self.normalize not in NORMALIZE_MODES:
            raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, got {self.normalize!r}")
        if self.offload not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {OFFLOAD_MODES}, got {self.offload!r}")
        if self.quarantine_s < 0:
            raise ValueError(f"quarantine_s must be >= 0, got {self.quarantine_s}")
        if self.max_consecutive_failures < 1 or self.micro_batch_size < 1:
            raise ValueError("max_consecutive_failures and micro_batch_size must be >= 1")
        if not (self.device in ("cpu", "auto") or self.device.startswith(("cuda", "xpu", "npu", "mps"))):
            raise ValueError(f"device must be 'cpu', 'auto' or an accelerator like 'cuda:0', got {self.device!r}")


@dataclass
class BanditPoolConfig:
    selector: str = "laser"  # a name from laser_plugin.available_selectors()
    signal_norm: str = "quantile"  # laser_plugin.core.signal_norm.make_signal_norm spec
    context_dim: int = 64  # bandit context size d (features + bias)
    granularity: str = "batch"  # one decision per score() call, or per prompt group (core.granularity)
    context_encoder: str = "hashing"  # or "hf:PATH"
    seed: int = 0
    max_pending: int = 100_000  # decisions awaiting feedback; the oldest are dropped beyond this
    explore_by: str = "training"  # whose scores train when the bandit explores (core.exploration)

    def __post_init__(self) -> None:
        check_granularity(self.granularity)
        check_explore_by(self.explore_by)
        check_context_dim(self.context_dim)
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")
