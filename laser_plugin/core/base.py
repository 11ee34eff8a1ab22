"""What every selector shares: validated dataclass configs, context checks, seeded RNG, exclusion of
quarantined arms, and state meta that refuses a checkpoint of another selector, K or d."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Optional, get_type_hints

import numpy as np

from laser_plugin.core.state_io import unflatten_state


@dataclasses.dataclass
class SelectorConfig:
    """Base of every selector config; subclasses add fields and validate in __post_init__."""

    @classmethod
    def from_kwargs(cls, selector: str, **kwargs: Any) -> "SelectorConfig":
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            valid = ", ".join(sorted(names)) or "(none)"
            raise ValueError(f"selector {selector!r} has no option(s) {unknown}; valid options: {valid}")
        hints = get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in kwargs.items()})

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class NoOptions(SelectorConfig):
    """Config of selectors that take no options (random, round_robin, most ensembles)."""


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """CLI values arrive as strings ("0.5", "true"): convert them to the field's declared type."""
    base = getattr(hint, "__origin__", None)
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    target = args[0] if base is not None and args else hint
    if not isinstance(value, str):
        if target is int and isinstance(value, float):  # 1000.0 is fine, 1.5 is not an int
            if not value.is_integer():
                raise ValueError(f"option {name!r}: {value!r} is not an integer")
            return int(value)
        return value
    try:
        if target is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if target in (int, float):
            return target(value)
    except ValueError:
        raise ValueError(f"option {name!r}: cannot read {value!r} as {target.__name__}") from None
    return value


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def check_context_dim(value: int, name: str = "context_dim") -> None:
    """A bandit context is features plus a bias column (last, all ones): at least two numbers."""
    require(value >= 2, f"{name} must be >= 2 (features + bias), got {value}")


class Selector:
    """Base class. Subclasses set ``name`` and ``config_cls`` and implement ``scores``/``update``."""

    name: str = ""
    config_cls: type = SelectorConfig
    uses_all_arms: bool = False
    optional_arrays: tuple[str, ...] = ()  # state arrays older checkpoints may lack (load_arrays defaults them)
    ragged_arrays: tuple[str, ...] = ()  # state arrays whose length varies (rows held), not shape-checked

    def __init__(self, num_arms: int, dim: int, seed: int = 0, config: Optional[SelectorConfig] = None) -> None:
        require(int(num_arms) >= 1, f"num_arms must be >= 1, got {num_arms}")
        require(int(dim) >= 1, f"dim must be >= 1, got {dim}")
        self.num_arms, self.dim, self.seed = int(num_arms), int(dim), int(seed)
        self.config = config if config is not None else self.config_cls()
        self.rng = np.random.default_rng(seed)

    # ---------------------------------------------------------------- inputs
    def _contexts(self, contexts: Any) -> np.ndarray:
        x = np.asarray(contexts, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{self.name}: contexts must be [N, {self.dim}] (or [{self.dim}]), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.name}: contexts contain NaN or inf")
        return x

    def _allowed(self, exclude: Optional[Iterable[int]]) -> np.ndarray:
        mask = np.ones(self.num_arms, dtype=bool)
        if exclude is not None:
            for arm in exclude:
                require(0 <= int(arm) < self.num_arms, f"excluded arm {arm} is not in [0, {self.num_arms})")
                mask[int(arm)] = False
        if not mask.any():
            raise ValueError(f"{self.name}: every arm is excluded (quarantined); nothing left to select")
        return mask

    # ---------------------------------------------------------------- API
    def scores(self, contexts: Any) -> np.ndarray:
        raise NotImplementedError

    def expected_scores(self, contexts: Any) -> Optional[np.ndarray]:
        """[N, K] expected bandit reward of each arm per context row, without any exploration bonus
        or draw; None for a selector that keeps no such estimate (random, fixed, ensembles, ...)."""
        return None

    def lower_bounds(self, contexts: Any) -> Optional[np.ndarray]:
        """[N, K] the estimate less the selector's own exploration width (LinUCB: x.theta - alpha
        sqrt(x^T A^-1 x), the mirror of its upper bound); the plain estimate for a selector without
        widths; None without estimates."""
        return self.expected_scores(contexts)

    def select(self, contexts: Any, exclude: Optional[Iterable[int]] = None) -> np.ndarray:
        """One arm per context row: the best-scoring allowed arm, ties broken by the seeded RNG."""
        x = self._contexts(contexts)
        allowed = self._allowed(exclude)
        s = np.asarray(self.scores(x), dtype=np.float64)
        s = np.where(allowed[None, :], s, -np.inf)
        best = s.max(axis=1, keepdims=True)
        finite_best = np.where(np.isfinite(best), best, 0.0)
        tol = 1e-12 * np.maximum(1.0, np.abs(finite_best))
        ties = (s == best) | (np.isfinite(best) & (s >= finite_best - tol))
        noise = self.rng.random(s.shape)
        return np.where(ties, noise, -1.0).argmax(axis=1).astype(np.int64)

    def update(self, arms: Any, contexts: Any, rewards: Any) -> None:
        raise NotImplementedError

    def _update_inputs(self, arms: Any, contexts: Any, rewards: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.asarray(arms, dtype=np.int64).reshape(-1)
        x = self._contexts(contexts)
        r = np.asarray(rewards, dtype=np.float64).reshape(-1)
        require(len(a) == len(x) == len(r), f"{self.name}.update: {len(a)} arms, {len(x)} contexts, {len(r)} rewards")
        require(bool(np.all((a >= 0) & (a < self.num_arms))),
                f"{self.name}.update: arms must be in [0, {self.num_arms})")
        require(bool(np.all(np.isfinite(r))), f"{self.name}.update: rewards must be finite")
        return a, x, r

    # ---------------------------------------------------------------- state
    def _arrays(self) -> dict[str, Any]:
        return {}

    def _load_arrays(self, arrays: dict[str, Any]) -> None:
        pass

    def _upgrade_arrays(self, arrays: dict[str, Any]) -> dict[str, Any]:
        """Arrays of an older checkpoint format in the current one (before any check)."""
        return arrays

    def state_dict(self) -> dict[str, Any]:
        meta = {"selector": self.name, "num_arms": self.num_arms, "dim": self.dim,
                "config": json.dumps(self.config.to_dict(), sort_keys=True)}
        # Copies: the selector keeps updating its arrays in place after a snapshot is taken.
        arrays = {k: np.array(v, copy=True) for k, v in self._arrays().items()}
        return {"meta": meta, "rng": json.dumps(self.rng.bit_generator.state), "arrays": arrays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if any("/" in k for k in state):  # a flat dict as load_state returns it
            state = unflatten_state(state)
        meta = state.get("meta") or {}
        got = {"selector": _scalar(meta.get("selector")), "num_arms": _scalar(meta.get("num_arms")),
               "dim": _scalar(meta.get("dim"))}
        want = {"selector": self.name, "num_arms": self.num_arms, "dim": self.dim}
        wrong = [f"{k}: checkpoint has {got[k]!r}, this selector has {want[k]!r}" for k in want if got[k] != want[k]]
        if wrong:
            raise ValueError("selector state does not match: " + "; ".join(wrong) +
                             " (load it into a selector built with the same name, num_arms and dim)")
        arrays = self._upgrade_arrays({k: np.asarray(v) for k, v in (state.get("arrays") or {}).items()})
        mine = self._arrays()
        missing = sorted(set(mine) - set(arrays) - set(self.optional_arrays))
        if missing:
            raise ValueError(f"{self.name}: state lacks arrays {missing}; it was not written by this selector")
        bad = [f"{k} {arrays[k].shape} != {np.shape(v)}" for k, v in mine.items()
               if k in arrays and k not in self.ragged_arrays and arrays[k].shape != np.shape(v)
               and not arrays[k].size == np.size(v) == 1]  # safetensors stores a scalar as [1]
        if bad:
            raise ValueError(f"{self.name}: state arrays have the wrong shape: {'; '.join(bad)}")
        self.rng.bit_generator.state = json.loads(_scalar(state["rng"]))
        self._load_arrays(arrays)


def _scalar(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(-1)[0].item()
    return value
