"""Bandit-pool checkpoint helpers on top of the core's flat safetensors state format
(``laser_plugin.core.state_io``: nested dicts as "a/b/c" keys, strings as uint8 "#str" arrays)."""
from __future__ import annotations

from typing import Any

import numpy as np

from laser_plugin.core.state_io import decode_str, encode_str, flatten_state, unflatten_state

__all__ = ["check_meta", "decode_str", "encode_str", "flatten", "strip", "unflatten"]


def flatten(prefix: str, obj: Any) -> dict[str, np.ndarray]:
    return flatten_state(obj, prefix)


def unflatten(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The nested dict stored under ``prefix/``."""
    return unflatten_state(strip(state, prefix))


def strip(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The flat entries under ``prefix/`` with the prefix removed."""
    head = prefix + "/"
    return {k[len(head):]: v for k, v in state.items() if k.startswith(head)}


def check_meta(state: dict[str, Any], expected: dict[str, Any]) -> None:
    """Raise ValueError listing every mismatch between a checkpoint and this pool."""
    problems = []
    for key, want in expected.items():
        stored = state.get(f"meta/{key}")
        if stored is None:
            problems.append(f"{key}: missing")
            continue
        got = decode_str(stored) if isinstance(want, str) else np.asarray(stored).reshape(-1)[0].item()
        if got != want:
            problems.append(f"{key}: checkpoint has {got!r}, this pool has {want!r}")
    if problems:
        raise ValueError("bandit pool state does not match this pool: "
                         + "; ".join(p.replace("\n", ",") for p in problems))
