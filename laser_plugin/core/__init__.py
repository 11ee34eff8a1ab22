"""Selection core: bandit selectors, ensembles, feedback normalisers, context features.
numpy/torch only (no ray, deepspeed or openrlhf)."""
from laser_plugin.core.registry import available_selectors, make_selector, register_selector, selector_option_names

__all__ = ["available_selectors", "make_selector", "register_selector", "selector_option_names"]
