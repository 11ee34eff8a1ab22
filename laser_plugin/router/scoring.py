"""Score every preference pair with every arm, in batches, cached on disk per arm.

Cache file per arm: ``<cache_dir>/<arm>-<key>.safetensors`` where key hashes the arm's spec and the
data's content, so a rerun (or adding one arm to the pool) rescores only what is new.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
from tqdm import tqdm

from laser_plugin.core.state_io import load_state, save_state
from laser_plugin.pool.types import ScoringBatch
from laser_plugin.router.data import PreferencePairs


def _arm_key(spec: Any, data_key: str) -> str:
    desc = json.dumps(spec.to_dict() if hasattr(spec, "to_dict") else str(spec), sort_keys=True, default=str)
    return hashlib.sha256((desc + data_key).encode("utf-8")).hexdigest()[:16]


def score_arm(pool: Any, arm: int, pairs: PreferencePairs, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw (chosen, rejected) scores [P] of one arm; chosen and rejected share one batch."""
    chosen, rejected = np.zeros(len(pairs)), np.zeros(len(pairs))
    for start in tqdm(range(0, len(pairs), batch_size), desc=f"score {pool.arm_names[arm]}", leave=False):
        sl = slice(start, start + batch_size)
        prompts, resp = pairs.prompts[sl], pairs.chosen[sl] + pairs.rejected[sl]
        b = len(prompts)
        labels = None if pairs.labels is None else pairs.labels[sl] * 2
        batch = ScoringBatch(queries=[p + r for p, r in zip(prompts * 2, resp)], prompts=prompts * 2,
                             responses=resp, labels=labels, group_ids=np.tile(np.arange(b), 2))
        raw = np.asarray(pool.score_raw(batch, arm), dtype=np.float64).reshape(-1)
        chosen[sl], rejected[sl] = raw[:b], raw[b:]
    return chosen, rejected


def score_pairs(pool: Any, pairs: PreferencePairs, batch_size: int = 16,
                cache_dir: Optional[str | Path] = None) -> tuple[np.ndarray, dict[str, int]]:
    """diffs [K, P] = score(chosen) - score(rejected) per arm, and {"cached": n, "scored": n} arms."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    data_key = pairs.fingerprint()
    cache = Path(cache_dir) if cache_dir else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    diffs = np.zeros((pool.num_arms, len(pairs)))
    stats = {"cached": 0, "scored": 0}
    for k, name in enumerate(pool.arm_names):
        path = cache / f"{name}-{_arm_key(pool.specs[k], data_key)}.safetensors" if cache else None
        if path is not None and path.is_file():
            state = load_state(path)
            diffs[k] = state["chosen"] - state["rejected"]
            stats["cached"] += 1
            continue
        chosen, rejected = score_arm(pool, k, pairs, batch_size)
        diffs[k] = chosen - rejected
        stats["scored"] += 1
        if path is not None:
            save_state(path, {"chosen": chosen, "rejected": rejected, "arm": name, "data": data_key})
    return diffs, stats
