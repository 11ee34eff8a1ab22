"""Preference pairs (prompt, chosen, rejected[, label]) from JSONL/JSON or a Hugging Face dataset,
with OpenRLHF's key names; chat-format fields (lists of {role, content}) are flattened to text."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from laser_plugin.records import read_records


@dataclass
class PreferencePairs:
    prompts: list[str]
    chosen: list[str]
    rejected: list[str]
    labels: Optional[list[Any]] = None

    def __post_init__(self) -> None:
        n = len(self.prompts)
        if len(self.chosen) != n or len(self.rejected) != n or (self.labels is not None and len(self.labels) != n):
            raise ValueError("prompts, chosen, rejected (and labels) must have one entry per pair")

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, idx: np.ndarray) -> "PreferencePairs":
        pick = lambda xs: None if xs is None else [xs[int(i)] for i in idx]  # noqa: E731
        return PreferencePairs(pick(self.prompts), pick(self.chosen), pick(self.rejected), pick(self.labels))

    def fingerprint(self) -> str:
        """Content hash: the score cache is keyed by it, so edited data is rescored."""
        h = hashlib.sha256()
        for i in range(len(self)):
            label = "" if self.labels is None else json.dumps(self.labels[i], sort_keys=True, default=str)
            for part in (self.prompts[i], self.chosen[i], self.rejected[i], label):
                h.update(part.encode("utf-8"))
                h.update(b"\x00")
        return h.hexdigest()[:16]


def to_text(value: Any) -> str:
    """A string, or a chat (list of {role, content}) joined by newlines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n".join(str(m["content"]) for m in value)
    if value is None:
        raise ValueError("a preference field is missing (None)")
    return str(value)


def _rows(path: str, split: str) -> list[dict[str, Any]]:
    p = Path(path)
    if p.is_file() and p.suffix in (".jsonl", ".json"):
        return read_records(p)
    import datasets  # lazy: only for HF datasets

    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(p))
        ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
    else:
        ds = datasets.load_dataset(path, split=split)
    return [dict(r) for r in ds]


def load_pairs(path: str, prompt_key: str = "prompt", chosen_key: str = "chosen", rejected_key: str = "rejected",
               label_key: Optional[str] = None, split: str = "train", max_pairs: Optional[int] = None) -> PreferencePairs:
    rows = _rows(path, split)
    if max_pairs:
        rows = rows[:max_pairs]
    if not rows:
        raise ValueError(f"preference data {path} has no rows")
    missing = [k for k in (prompt_key, chosen_key, rejected_key, label_key) if k and k not in rows[0]]
    if missing:
        raise ValueError(f"preference data {path} has no key(s) {missing}; keys of its first row: {sorted(rows[0])} "
                         "(set --data.prompt_key / --data.chosen_key / --data.rejected_key)")
    return PreferencePairs(
        prompts=[to_text(r[prompt_key]) for r in rows],
        chosen=[to_text(r[chosen_key]) for r in rows],
        rejected=[to_text(r[rejected_key]) for r in rows],
        labels=[r[label_key] for r in rows] if label_key else None,
    )


def split_indices(n: int, heldout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, held-out) split of range(n)."""
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout fraction must be in (0, 1), got {heldout_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_held = max(1, int(round(n * heldout_fraction)))
    if n - n_held < 1:
        raise ValueError(f"{n} pairs are too few to hold {heldout_fraction:.0%} out")
    return np.sort(order[n_held:]), np.sort(order[:n_held])
