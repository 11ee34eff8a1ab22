"""laser_plugin: one bandit-selected reward model per batch from a pool (LASeR, BayesianRouter).

Importing this package needs only numpy and torch; openrlhf, ray, deepspeed and vllm are imported
by the layers that use them (pool actor, adapters), never here.
"""
from laser_plugin.core import available_selectors, make_selector, register_selector
from laser_plugin.version import __version__

__all__ = ["__version__", "available_selectors", "make_selector", "register_selector"]
