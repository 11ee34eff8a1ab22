"""Arm kinds of the reward pool: the interface, the ``func:`` and ``http:`` arms, and the registry.

The ``hf:`` arm needs OpenRLHF's loader, so it lives in ``laser_plugin.adapters.openrlhf`` and is
imported by module path only when a pool actually has an ``hf:`` arm: importing this package never
imports openrlhf, ray or deepspeed.
"""
from __future__ import annotations

import importlib
import importlib.util
import socket
import time
from typing import Any, Optional
from urllib.parse import urlparse

import numpy as np

from laser_plugin.pool.specs import ArmSpec
from laser_plugin.pool.types import ScoringBatch

# kind -> "module:Class". One registry; the hf entry is resolved lazily (see module docstring).
ARM_REGISTRY: dict[str, str] = {
    "hf": "laser_plugin.adapters.openrlhf.hf_reward_arm:HFRewardArm",
    "func": "laser_plugin.pool.arms:FuncArm",
    "http": "laser_plugin.pool.arms:HttpArm",
}


class ArmLoadError(RuntimeError):
    """An arm that cannot be validated or loaded; raised at pool start, naming the arm and cause."""

    def __init__(self, arm: str, cause: Any) -> None:
        self.arm, self.cause = arm, cause
        super().__init__(f"reward arm {arm!r} cannot load: {type(cause).__name__ + ': ' if isinstance(cause, BaseException) else ''}{cause}")


class ArmScoringError(RuntimeError):
    """An arm failed on a batch. ``garbage``: it returned NaN/inf (quarantined at once)."""

    def __init__(self, arm: str, cause: Any, *, garbage: bool = False) -> None:
        self.arm, self.cause, self.garbage = arm, cause, garbage
        super().__init__(f"reward arm {arm!r} failed: {cause}")


class PoolExhaustedError(RuntimeError):
    """Every arm is quarantined or failed on this batch: nothing trustworthy is left to score it.
    From ``RewardPool.score``: ``raw`` and ``done`` hold the rows that were scored before."""

    raw: Any = None
    done: Any = None


def arm_class(kind: str) -> type["RewardArm"]:
    if kind not in ARM_REGISTRY:
        raise ValueError(f"unknown arm kind {kind!r}; known: {sorted(ARM_REGISTRY)}")
    module, _, name = ARM_REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), name)


class RewardArm:
    """One reward source. Subclasses score raw (un-normalised) rewards for a batch.

    ``uses_device``: the arm holds weights on the pool's device, so the pool's residency (LRU)
    applies to it; ``validate`` is the cheap start-up check, ``load`` the (lazy) real load.
    """

    uses_device = False

    def __init__(self, spec: ArmSpec, *, device: str = "cpu", policy_tokenizer: Any = None, strategy: Any = None):
        self.spec = spec
        self.device = device
        self.policy_tokenizer = policy_tokenizer
        self.strategy = strategy

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def loaded(self) -> bool:
        return True

    @property
    def on_device(self) -> bool:
        return False

    def validate(self) -> None:
        """Raise if the arm cannot work (checked once at start)."""

    def load(self) -> None:
        """Load (or bring back) the arm onto its device."""

    def offload(self) -> None:
        """Move weights off the device, keeping them in host memory."""

    def unload(self) -> None:
        """Drop weights entirely (reloaded from the checkpoint on next use)."""

    def param_bytes(self) -> int:
        return 0

    def score(self, batch: ScoringBatch, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _as_rewards(out: Any, n: int) -> np.ndarray:
    """OpenRLHF reward_func / serve_rm outputs: a tensor or list, or a dict with "rewards"."""
    if isinstance(out, dict):
        if "rewards" not in out:
            raise ValueError(f"reward dict has no 'rewards' key (keys: {sorted(out)})")
        out = out["rewards"]
    if hasattr(out, "detach"):  # torch tensor, without importing torch here
        out = out.detach().float().cpu().numpy()
    values = np.asarray(out, dtype=np.float64).reshape(-1)
    if values.shape != (n,):
        raise ValueError(f"expected {n} rewards, got shape {np.asarray(out).shape}")
    return values


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield np.arange(start, min(n, start + size))


class FuncArm(RewardArm):
    """OpenRLHF's ``--reward.remote_url file.py`` format: ``reward_func(queries, prompts, labels, **kw)``."""

    def __init__(self, spec: ArmSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self._func = None
        self.last_extra_logs: dict[str, Any] = {}

    def validate(self) -> None:
        # Import the way OpenRLHF's SingleTurnAgentExecutor does, under a per-arm module name.
        spec = importlib.util.spec_from_file_location(f"laser_reward_func_{self.name}", self.spec.target)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"cannot import {self.spec.target}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        func = getattr(module, "reward_func", None)
        if not callable(func):
            raise AttributeError(f"{self.spec.target} defines no callable reward_func(queries, prompts, labels, **kw)")
        self._func = func

    def score(self, batch: ScoringBatch, batch_size: int) -> np.ndarray:
        if self._func is None:
            self.validate()
        n = len(batch)
        labels = batch.labels if batch.labels is not None else [None] * n
        size = self.spec.batch_size or n  # a verifier is cheap: one call unless asked otherwise
        out = np.empty(n, dtype=np.float64)
        for idx in _chunks(n, max(size, 1)):
            res = self._func(
                [batch.queries[i] for i in idx], [batch.prompts[i] for i in idx], [labels[i] for i in idx],
                **self.spec.func_kwargs,
            )
            if isinstance(res, dict):
                self.last_extra_logs = dict(res.get("extra_logs") or {})
            out[idx] = _as_rewards(res, len(idx))
        return out


class HttpArm(RewardArm):
    """An ``openrlhf.cli.serve_rm``-compatible endpoint: POST {"query", "prompts", "labels"} ->
    {"rewards": [...]}. One requests.Session per arm (connection reuse), per-request timeout,
    ``retries`` extra attempts with a short exponential backoff."""

    backoff_s = 0.1

    def __init__(self, spec: ArmSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self._session = None
        self.last_extra_logs: dict[str, Any] = {}

    def _host_port(self) -> tuple[str, int]:
        url = urlparse(self.spec.target)
        return url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)

    def validate(self) -> None:
        # serve_rm has no health route and rejects an empty query, so the probe is a TCP connect.
        host, port = self._host_port()
        with socket.create_connection((host, port), timeout=min(self.spec.timeout_s, 5.0)):
            pass

    def _post(self, payload: dict[str, Any]) -> Any:
        import requests  # lazy: only pools with an http arm need it

        if self._session is None:
            self._session = requests.Session()
        last: Optional[BaseException] = None
        for attempt in range(self.spec.retries + 1):
            try:
                resp = self._session.post(self.spec.target, json=payload, timeout=self.spec.timeout_s)
                resp.raise_for_status()
                return resp.json()
            except (requests.RequestException, ValueError) as exc:
                last = exc
                if attempt < self.spec.retries:
                    time.sleep(self.backoff_s * 2**attempt)
        raise ConnectionError(f"{self.spec.target} failed after {self.spec.retries + 1} attempts: {last}")

    def score(self, batch: ScoringBatch, batch_size: int) -> np.ndarray:
        n = len(batch)
        labels = batch.labels if batch.labels is not None else [None] * n
        size = self.spec.batch_size or n
        out = np.empty(n, dtype=np.float64)
        for idx in _chunks(n, max(size, 1)):
            data = self._post({
                "query": [batch.queries[i] for i in idx],
                "prompts": [batch.prompts[i] for i in idx],
                "labels": [labels[i] for i in idx],
            })
            if isinstance(data, dict):
                self.last_extra_logs = dict(data.get("extra_logs") or {})
            out[idx] = _as_rewards(data, len(idx))
        return out

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
