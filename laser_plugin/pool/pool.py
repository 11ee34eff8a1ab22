"""RewardPool: K heterogeneous reward arms behind one scoring call (no Ray needed).

* lazy loading: arms are validated at start (``load_all``) and loaded on first use;
* residency: at most ``residency`` device-holding arms (``hf:``) stay on the device, the least
  recently used one is offloaded to host memory (``offload="cpu"``) or dropped (``"unload"``);
* grouped dispatch: rows choosing different arms are scored with one call per arm group and come
  back in input order (inside an arm, length-sorted micro-batches);
* per-arm running normalisation of scores, counters, timings;
* failures: NaN/inf scores quarantine an arm at once, other failures after
  ``max_consecutive_failures`` in a row; failed rows go to a fallback arm, scored rows are kept.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from laser_plugin.pool.arms import ArmLoadError, ArmScoringError, PoolExhaustedError, RewardArm, arm_class
from laser_plugin.pool.config import PoolConfig
from laser_plugin.pool.normalize import ArmNormalizer
from laser_plugin.pool.specs import ArmSpec, parse_pool_spec
from laser_plugin.pool.types import ScoringBatch

logger = logging.getLogger("laser_plugin.pool")
# fallback(rows, excluded arms) -> new arm per row; rows are indices into the batch.
Fallback = Callable[[np.ndarray, set], np.ndarray]
_COUNTERS = ("calls", "samples", "seconds", "load_seconds", "loads", "evictions", "failures", "nan_events",
             "quarantines", "param_bytes")


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class RewardPool:
    def __init__(
        self,
        specs: Union[str, Path, Sequence[Any]],
        *,
        residency: int = 1,
        device: str = "cpu",
        policy_tokenizer: Any = None,
        normalize: str = "running",
        quarantine_s: float = 300.0,
        max_consecutive_failures: int = 3,
        micro_batch_size: int = 16,
        strategy: Any = None,
        offload: str = "auto",
        arm_factory: Optional[Callable[[ArmSpec], RewardArm]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = PoolConfig(residency=residency, device=device, normalize=normalize, quarantine_s=quarantine_s,
                                 max_consecutive_failures=max_consecutive_failures,
                                 micro_batch_size=micro_batch_size, offload=offload)
        self.specs: list[ArmSpec] = list(specs) if _is_spec_list(specs) else parse_pool_spec(specs)
        self.device = _default_device() if device == "auto" else device
        if offload == "auto":  # on a CPU device "offload to host" frees nothing: drop instead
            offload = "unload" if self.device == "cpu" else "cpu"
        self.residency, self.offload = residency, offload
        self.quarantine_s, self.max_consecutive_failures = float(quarantine_s), max_consecutive_failures
        self.micro_batch_size, self._clock = micro_batch_size, clock
        if isinstance(policy_tokenizer, (str, Path)):
            from transformers import AutoTokenizer  # lazy: only when given a path

            policy_tokenizer = AutoTokenizer.from_pretrained(str(policy_tokenizer))
        make = arm_factory or (
            lambda s: arm_class(s.kind)(s, device=self.device, policy_tokenizer=policy_tokenizer, strategy=strategy)
        )
        self._arms: list[RewardArm] = [make(s) for s in self.specs]
        self.normalizer = ArmNormalizer(len(self._arms), normalize)
        self._lru: "OrderedDict[int, None]" = OrderedDict()
        self._stats = {k: np.zeros(len(self._arms)) for k in _COUNTERS}
        self._consecutive = np.zeros(len(self._arms), dtype=np.int64)
        self._quarantine_until: dict[int, float] = {}
        self._last_device_arm: Optional[int] = None
        self._switches = 0
        self._switch_seconds = 0.0
        self._peak_bytes = 0
        self.events: list[dict[str, Any]] = []  # failure/quarantine log, newest last (bounded)

    # ---------------------------------------------------------------- properties / start-up
    @property
    def num_arms(self) -> int:
        return len(self._arms)

    @property
    def arm_names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def arms(self) -> list[RewardArm]:
        return list(self._arms)

    def load_all(self, preload: bool = False) -> None:
        """Validate every arm (``preload``: also load each arm once, keeping ``residency`` of them on the
        device); ArmLoadError naming the arm and the cause on failure."""
        for i, arm in enumerate(self._arms):
            start = time.perf_counter()
            try:
                arm.validate()
                if preload:
                    self._ensure_resident(i) if arm.uses_device else arm.load()
            except Exception as exc:  # noqa: BLE001 - every cause is reported with the arm's name
                raise ArmLoadError(arm.name, exc) from exc
            self._stats["load_seconds"][i] += time.perf_counter() - start

    # ---------------------------------------------------------------- residency
    def _evict(self, i: int) -> None:
        arm = self._arms[i]
        arm.offload() if self.offload == "cpu" else arm.unload()
        self._stats["evictions"][i] += 1

    def _ensure_resident(self, i: int) -> None:
        arm = self._arms[i]
        if not arm.uses_device:
            return
        if self._last_device_arm is not None and self._last_device_arm != i:
            self._switches += 1
        self._last_device_arm = i
        if i in self._lru:
            self._lru.move_to_end(i)
            return
        start = time.perf_counter()
        while len(self._lru) >= self.residency:
            victim, _ = self._lru.popitem(last=False)
            self._evict(victim)
        arm.load()
        self._lru[i] = None
        elapsed = time.perf_counter() - start
        self._stats["loads"][i] += 1
        self._stats["param_bytes"][i] = arm.param_bytes()  # size of this RM when resident
        self._stats["load_seconds"][i] += elapsed
        self._switch_seconds += elapsed
        self._peak_bytes = max(self._peak_bytes, self.resident_param_bytes())

    def resident_param_bytes(self) -> int:
        """Bytes of RM parameters/buffers held on the pool's device right now."""
        return int(sum(a.param_bytes() for a in self._arms if a.uses_device and a.on_device))

    # ---------------------------------------------------------------- scoring
    def score_raw(self, batch: ScoringBatch, arm: int, *, scale: bool = True) -> np.ndarray:
        """Raw scores of one arm (score_scale applied unless ``scale=False``; no normalisation, no
        quarantine bookkeeping). Raises ArmScoringError for an exception or a non-finite score."""
        a = self._arms[arm]
        start = None
        try:
            self._ensure_resident(arm)  # load time is counted apart (load_seconds)
            start = time.perf_counter()
            raw = np.asarray(a.score(batch, a.spec.batch_size or self.micro_batch_size), dtype=np.float64)
        except ArmScoringError:
            raise
        except Exception as exc:  # noqa: BLE001 - wrapped with the arm's name, handled by the caller
            raise ArmScoringError(a.name, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._stats["calls"][arm] += 1
            if start is not None:
                self._stats["seconds"][arm] += time.perf_counter() - start
        if not np.all(np.isfinite(raw)):
            bad = int((~np.isfinite(raw)).sum())
            raise ArmScoringError(a.name, f"{bad}/{raw.size} scores are NaN or inf", garbage=True)
        self._stats["samples"][arm] += raw.size
        self._consecutive[arm] = 0
        return raw * a.spec.score_scale if scale else raw

    def try_score_raw(self, batch: ScoringBatch, arm: int) -> Optional[np.ndarray]:
        """``score_raw`` for an optional extra opinion (the cross-arm audit): a quarantined or
        failing arm gives None (the failure is recorded, and quarantines as usual)."""
        if arm in self.quarantined():
            return None
        try:
            return self.score_raw(batch, arm)
        except ArmScoringError as err:
            self._record_failure(arm, err)
            return None

    def _record_failure(self, arm: int, err: ArmScoringError) -> None:
        self._stats["failures"][arm] += 1
        self._stats["nan_events"][arm] += int(err.garbage)
        self._consecutive[arm] += 1
        event = {"arm": self.arm_names[arm], "error": str(err), "quarantined": False}
        if err.garbage or self._consecutive[arm] >= self.max_consecutive_failures:
            self._quarantine_until[arm] = self._clock() + self.quarantine_s
            self._stats["quarantines"][arm] += 1
            self._consecutive[arm] = 0
            event["quarantined"] = True
        self.events = (self.events + [event])[-100:]
        logger.warning("reward arm %s failed%s: %s", event["arm"], " (quarantined)" if event["quarantined"] else "", err)

    def quarantined(self) -> set[int]:
        now = self._clock()
        for arm in [a for a, until in self._quarantine_until.items() if until <= now]:
            del self._quarantine_until[arm]
        return set(self._quarantine_until)

    def _default_fallback(self, rows: np.ndarray, excluded: set) -> np.ndarray:
        left = [a for a in range(self.num_arms) if a not in excluded]
        if not left:
            raise PoolExhaustedError(f"every reward arm is quarantined or failed: {self.events[-3:]}")
        return np.full(len(rows), left[0], dtype=np.int64)

    def score(
        self, batch: ScoringBatch, arms: np.ndarray, *, fallback: Optional[Fallback] = None, return_arms: bool = False
    ):
        """Score row i with arm ``arms[i]``: one call per arm group, results in input order.

        Returns (normalised float32 [N], raw float32 [N]) (+ the arm actually used per row with
        ``return_arms``). Rows whose arm fails or is quarantined are re-dispatched to
        ``fallback(rows, excluded)`` (default: the lowest-index usable arm); rows already scored
        are kept. PoolExhaustedError when no usable arm is left.
        """
        n = len(batch)
        used = np.asarray(arms, dtype=np.int64).reshape(-1).copy()
        if used.shape != (n,) or (n and (used.min() < 0 or used.max() >= self.num_arms)):
            raise ValueError(f"arms must be {n} ids in [0, {self.num_arms}), got {arms!r}")
        raw = np.zeros(n, dtype=np.float64)
        done = np.zeros(n, dtype=bool)
        failed: set[int] = set()
        while not done.all():
            todo = np.flatnonzero(~done)
            excluded = failed | self.quarantined()
            bad = np.isin(used[todo], list(excluded))
            if bad.any():
                rows = todo[bad]
                try:
                    new = np.asarray((fallback or self._default_fallback)(rows, set(excluded)), dtype=np.int64)
                except PoolExhaustedError as err:  # hand back what was scored, never garbage
                    err.raw, err.done = raw * done, done
                    raise
                if new.shape != rows.shape or np.isin(new, list(excluded)).any():
                    raise PoolExhaustedError(f"fallback gave unusable arms {new} (excluded {sorted(excluded)})")
                used[rows] = new
            for arm in np.unique(used[todo]):
                rows = todo[used[todo] == arm]
                sub = batch if len(rows) == n else batch.select(rows)
                try:
                    raw[rows] = self.score_raw(sub, int(arm))
                    done[rows] = True
                except ArmScoringError as err:
                    self._record_failure(int(arm), err)
                    failed.add(int(arm))
        norm = np.zeros(n, dtype=np.float64)
        for arm in np.unique(used):
            rows = used == arm
            norm[rows] = self.normalizer(int(arm), raw[rows])
        out = (norm.astype(np.float32), raw.astype(np.float32))
        return (*out, used) if return_arms else out

    def score_all(self, batch: ScoringBatch, *, return_mask: bool = False):
        """Every usable arm scores every row (for ensembles): normalised and raw [K, N]; rows of
        arms that are quarantined or fail are NaN (``return_mask`` adds the bool [K] of arms used)."""
        n, k = len(batch), self.num_arms
        raw = np.full((k, n), np.nan)
        norm = np.full((k, n), np.nan)
        used = np.zeros(k, dtype=bool)
        skip = self.quarantined()
        for arm in range(k):
            if arm in skip:
                continue
            try:
                raw[arm] = self.score_raw(batch, arm)
            except ArmScoringError as err:
                self._record_failure(arm, err)
                continue
            norm[arm] = self.normalizer(arm, raw[arm])
            used[arm] = True
        if not used.any():
            raise PoolExhaustedError(f"every reward arm is quarantined or failed: {self.events[-3:]}")
        out = (norm.astype(np.float32), raw.astype(np.float32))
        return (*out, used) if return_mask else out

    # ---------------------------------------------------------------- metrics / state
    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        quarantined = self.quarantined()
        for i, name in enumerate(self.arm_names):
            for key in _COUNTERS:
                out[f"pool/{name}/{key}"] = float(self._stats[key][i])
            out[f"pool/{name}/score_mean"] = float(self.normalizer.mean[i])
            out[f"pool/{name}/score_std"] = self.normalizer.std(i)
            out[f"pool/{name}/quarantined"] = float(i in quarantined)
        out["pool/switches"] = float(self._switches)
        out["pool/switch_seconds"] = float(self._switch_seconds)
        out["pool/resident_param_bytes"] = float(self.resident_param_bytes())
        out["pool/peak_resident_param_bytes"] = float(self._peak_bytes)
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"normalizer/{k}": v for k, v in self.normalizer.state_dict().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.normalizer.load_state_dict({k.split("/", 1)[1]: v for k, v in state.items() if k.startswith("normalizer/")})

    def close(self) -> None:
        for arm in self._arms:
            arm.close()


def _is_spec_list(specs: Any) -> bool:
    return isinstance(specs, (list, tuple)) and all(isinstance(s, ArmSpec) for s in specs) and len(specs) > 0
