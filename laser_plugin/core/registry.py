"""The one registry of selectors, keyed by the ``--reward_selector`` name.

A dict, a decorator and getters; it imports no selector. The package ``laser_plugin.core`` imports
this module first and then each built-in selector module, which registers itself (no import cycle:
verl's ``core_algos`` registries work the same way)."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from laser_plugin.core.base import Selector

_SELECTORS: dict[str, type[Selector]] = {}
_ALIASES: dict[str, str] = {}


def register_selector(name: str, *aliases: str) -> Callable[[type[Selector]], type[Selector]]:
    def deco(cls: type[Selector]) -> type[Selector]:
        for key in (name, *aliases):
            if key in _SELECTORS or key in _ALIASES:
                raise ValueError(f"selector name {key!r} is already registered")
        cls.name = name
        _SELECTORS[name] = cls
        for alias in aliases:
            _ALIASES[alias] = name
        return cls

    return deco


def available_selectors() -> list[str]:
    """Every accepted name (aliases included), sorted."""
    return sorted([*_SELECTORS, *_ALIASES])


def selector_class(name: str) -> type[Selector]:
    canonical = _ALIASES.get(name, name)
    if canonical not in _SELECTORS:
        raise ValueError(f"unknown selector {name!r}; valid names: {', '.join(available_selectors())}")
    return _SELECTORS[canonical]


def selector_option_names() -> list[str]:
    """Union of every selector's config options (for CLI flag registration)."""
    return sorted({f.name for cls in _SELECTORS.values() for f in dataclasses.fields(cls.config_cls)})


def selectors_with_option(option: str) -> list[str]:
    """Every accepted name (aliases included) whose selector's config has ``option``, sorted."""
    owners = {name for name, cls in _SELECTORS.items() if option in {f.name for f in dataclasses.fields(cls.config_cls)}}
    return sorted([*owners, *(alias for alias, name in _ALIASES.items() if name in owners)])


def make_selector(name: str, num_arms: int, dim: int, seed: int = 0, **config: Any) -> Selector:
    """Build a selector by registered name, e.g. ``make_selector("laser", 4, 64, alpha=0.5)``."""
    cls = selector_class(name)
    return cls(num_arms, dim, seed=seed, config=cls.config_cls.from_kwargs(name, **config))
