"""TRL adapter: the reward pool and bandit inside TRL's GRPOTrainer / RLOOTrainer.

    router = LaserRewardRouter(pool="hf:/rms/a,hf:/rms/b,func:verify.py", selector="laser", granularity="group")
    trainer = GRPOTrainer(model=..., reward_funcs=[router], callbacks=[router.callback()], args=GRPOConfig(...))

Only this package imports trl / transformers' trainer classes; ``import laser_plugin`` never does.
Names are resolved lazily so that ``laser_plugin.adapters.trl.router`` stays importable without trl.
"""
from __future__ import annotations

from typing import Any

__all__ = ["LaserRewardCallback", "LaserRewardRouter", "RouterConfig"]


def __getattr__(name: str) -> Any:
    if name == "LaserRewardRouter":
        from laser_plugin.adapters.trl.router import LaserRewardRouter

        return LaserRewardRouter
    if name == "RouterConfig":
        from laser_plugin.adapters.trl.config import RouterConfig

        return RouterConfig
    if name == "LaserRewardCallback":
        from laser_plugin.adapters.trl.callback import LaserRewardCallback

        return LaserRewardCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
