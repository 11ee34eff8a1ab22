"""Validated options of the TRL reward router (checked once, in ``__post_init__``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from laser_plugin.config import SIGNALS, default_signal
from laser_plugin.core.base import check_context_dim
from laser_plugin.core.granularity import check_granularity

REWARD_KINDS = ("normalized", "raw")


@dataclass
class RouterConfig:
    selector: str = "laser"  # a name from laser_plugin.available_selectors()
    granularity: str = "group"  # one arm per prompt group (TRL's num_generations) or per reward call
    # bandit reward: loss (LASeR), group_variance, verifier, audit (see laser_plugin.signals); None: the
    # PPO/GRPO default (laser_plugin.config.default_signal: verifier when a verifier arm is named, else audit)
    signal: Optional[str] = None
    verifier: Optional[str] = None  # arm name of the verifier for signal="verifier"
    audit_share: Optional[float] = None  # signal="audit": share of decisions every arm scores (None: 0.25/(K-1))
    signal_norm: str = "quantile"  # laser_plugin.core.signal_norm.make_signal_norm spec
    context_dim: int = 64  # bandit context size d (features + bias)
    context_encoder: str = "hashing"  # prompt text features, or "hf:PATH"
    seed: int = 0
    selector_options: dict[str, Any] = field(default_factory=dict)
    rewards: str = "normalized"  # what TRL receives: per-arm running z-scores, or the arm's raw scores
    label_key: Optional[str] = None  # dataset column handed to arms as labels (None: first of LABEL_KEYS)
    num_generations: Optional[int] = None  # group size; None: taken from the trainer's args at train start
    name: str = "laser_router"  # the reward function's name in TRL's logs (rewards/<name>/mean)

    def __post_init__(self) -> None:
        from laser_plugin.core.registry import available_selectors

        if self.selector not in available_selectors():
            raise ValueError(f"unknown selector {self.selector!r}; valid names: {', '.join(available_selectors())}")
        check_granularity(self.granularity)
        if self.signal is None:
            self.signal = default_signal(self.verifier)
        if self.signal not in SIGNALS:
            raise ValueError(f"signal must be one of {SIGNALS}, got {self.signal!r}")
        if self.signal == "verifier" and not self.verifier:
            raise ValueError("signal='verifier' needs verifier=ARM_NAME (an arm of the pool)")
        if self.audit_share is not None and not 0.0 < self.audit_share <= 1.0:
            raise ValueError(f"audit_share must be in (0, 1], got {self.audit_share}")
        if self.rewards not in REWARD_KINDS:
            raise ValueError(f"rewards must be one of {REWARD_KINDS}, got {self.rewards!r}")
        check_context_dim(self.context_dim)
        if self.num_generations is not None and self.num_generations < 1:
            raise ValueError(f"num_generations must be >= 1, got {self.num_generations}")
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"name must be a plain word ([A-Za-z0-9_-]), got {self.name!r}")
