"""The router file: one safetensors file (no pickle) that is also the online selector's prior.

Keys: ``prior_mean`` [K, d] (all the core's ``load_prior`` reads), ``router/projection`` [r, d],
``router/arm_vectors`` [K, r], ``router/calibration`` [2], ``arm_names`` (one string per arm),
``encoder/{name,identity,dim,seed}``, ``config/*``. ``load_router`` checks a file against the pool
it is about to steer and names every mismatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from laser_plugin.core.state_io import load_state, save_state, unflatten_state
from laser_plugin.router.encoders import EncoderSpec, identity_of
from laser_plugin.router.model import TrainedRouter

FORMAT = "laser_plugin.router/1"


class RouterPriorMismatch(ValueError):
    """A router file trained for another pool, context dimension or encoder."""


@dataclass
class RouterPrior:
    prior_mean: np.ndarray  # [K, d]
    arm_names: list[str]
    encoder: EncoderSpec
    projection: np.ndarray
    arm_vectors: np.ndarray
    calibration: np.ndarray
    path: Optional[str] = None

    def scores(self, contexts: np.ndarray) -> np.ndarray:
        return np.asarray(contexts, dtype=np.float64) @ self.prior_mean.T

    def selector_config(self, prior_strength: Optional[float] = None, **extra: Any) -> dict[str, Any]:
        """Options for ``make_selector("bayesian_router", ...)`` starting at this router (strength None:
        the selector's default with a prior, ``core.thompson.PRIOR_STRENGTH_WITH_PRIOR``)."""
        return {"prior": self.path if self.path else self.prior_mean, "prior_strength": prior_strength, **extra}


def save_router(path: Union[str, Path], router: TrainedRouter, arm_names: Sequence[str], encoder: EncoderSpec,
                config: Optional[dict[str, Any]] = None) -> None:
    k, d = router.weights.shape
    if len(arm_names) != k or d != encoder.dim:
        raise ValueError(f"router has {k} arms x d={d}, but {len(arm_names)} names and encoder dim {encoder.dim}")
    state: dict[str, Any] = {
        "format": FORMAT,
        "prior_mean": router.weights,
        "router": {"projection": router.projection, "arm_vectors": router.arm_vectors,
                   "calibration": router.calibration},
        "num_arms": np.array(k),
        "arm_names": {str(i): name for i, name in enumerate(arm_names)},
        "encoder": {"name": encoder.name, "identity": encoder.identity, "dim": np.array(encoder.dim),
                    "seed": np.array(encoder.seed)},
        "config": {key: (str(v) if isinstance(v, str) else np.array(v)) for key, v in (config or {}).items()},
    }
    save_state(path, state)


def _int(value: Any) -> int:
    return int(np.asarray(value).reshape(-1)[0])


def load_router(path: Union[str, Path], arm_names: Optional[Sequence[str]] = None, context_dim: Optional[int] = None,
                encoder_name: Optional[str] = None, encoder_seed: Optional[int] = None) -> RouterPrior:
    """Read a router file; every given expectation is checked (arms by name and order)."""
    state = unflatten_state(load_state(path))
    if state.get("format") != FORMAT or "prior_mean" not in state:
        raise RouterPriorMismatch(f"{path} is not a router file written by `laser-plugin train-router` "
                                  f"(format {state.get('format')!r})")
    mu0 = np.asarray(state["prior_mean"], dtype=np.float64)
    k = _int(state["num_arms"])
    names = [state["arm_names"][str(i)] for i in range(k)]
    enc = state["encoder"]
    spec = EncoderSpec(name=enc["name"], identity=enc["identity"], dim=_int(enc["dim"]), seed=_int(enc["seed"]))
    problems = []
    if arm_names is not None and list(arm_names) != names:
        problems.append(f"it was trained for arms {names}, but the pool has {list(arm_names)} "
                        "(same names in the same order are needed)")
    if context_dim is not None and int(context_dim) != spec.dim:
        problems.append(f"its context dim is {spec.dim}, but the selector uses {context_dim}")
    if encoder_name is not None and identity_of(encoder_name) != spec.identity:
        problems.append(f"its context encoder is {spec.identity!r}, but the pool encodes with "
                        f"{identity_of(encoder_name)!r}")
    if encoder_seed is not None and int(encoder_seed) != spec.seed:
        problems.append(f"its encoder seed is {spec.seed}, but the pool's is {encoder_seed} "
                        "(the seed fixes the hashing key / random projection of the contexts)")
    if problems:
        raise RouterPriorMismatch(f"router prior {path} does not fit this pool: " + "; ".join(problems)
                                  + ". Retrain with `laser-plugin train-router` on this pool and encoder.")
    router = state["router"]
    return RouterPrior(mu0, names, spec, np.asarray(router["projection"]), np.asarray(router["arm_vectors"]),
                       np.asarray(router["calibration"]), str(path))


def is_router_file(path: Union[str, Path]) -> bool:
    """A file written by ``save_router`` (rather than a bare ``prior_mean`` file)."""
    from laser_plugin.core.state_io import decode_str

    tag = load_state(path).get("format#str")
    return tag is not None and decode_str(tag) == FORMAT


def check_pool_prior(selector_config: Optional[dict[str, Any]], arm_names: Sequence[str], context_dim: int,
                     context_encoder: str, seed: int) -> Optional[RouterPrior]:
    """Before an online pool steers with ``selector_config["prior"]``: if it is a router file, check it
    fits this pool (arms, context dim, encoder, seed; RouterPriorMismatch names each mismatch). A bare
    ``prior_mean`` file or an array: None (the core checks its shape). Called by whoever builds the
    bandit (the adapters' factories, the PPO preflight), so that the pool below needs no router."""
    prior = (selector_config or {}).get("prior")
    if not isinstance(prior, (str, Path)) or not is_router_file(prior):
        return None
    return load_router(prior, arm_names, context_dim, context_encoder, seed)
