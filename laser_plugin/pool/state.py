"""Flat array-only state for safetensors checkpoints (no pickle): nested dicts become "a/b/c" keys,
strings become uint8 arrays under a "#str" key suffix, None a "#none" marker, scalars 0-d arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

_STR, _NONE = "#str", "#none"


def encode_str(value: str) -> np.ndarray:
    return np.frombuffer(value.encode("utf-8"), dtype=np.uint8).copy()


def decode_str(value: Any) -> str:
    return np.asarray(value, dtype=np.uint8).tobytes().decode("utf-8")


def flatten(prefix: str, obj: Any) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(flatten(f"{prefix}/{key}", value))
    elif isinstance(obj, str):
        out[prefix + _STR] = encode_str(obj)
    elif obj is None:
        out[prefix + _NONE] = np.zeros(0, dtype=np.uint8)
    elif hasattr(obj, "detach"):  # torch tensor
        out[prefix] = obj.detach().cpu().numpy()
    else:
        out[prefix] = np.asarray(obj)
    return out


def unflatten(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The nested dict stored under ``prefix/`` (inverse of :func:`flatten`)."""
    root: dict[str, Any] = {}
    head = prefix + "/"
    for key, value in state.items():
        if not key.startswith(head):
            continue
        path = key[len(head):]
        if path.endswith(_STR):
            path, value = path[: -len(_STR)], decode_str(value)
        elif path.endswith(_NONE):
            path, value = path[: -len(_NONE)], None
        else:
            value = np.asarray(value)
        *parents, leaf = path.split("/")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return root


def strip(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The flat entries under ``prefix/`` with the prefix removed (for already-flat states)."""
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
        got = decode_str(stored) if isinstance(want, str) else np.asarray(stored).item()
        if got != want:
            problems.append(f"{key}: checkpoint has {got!r}, this pool has {want!r}")
    if problems:
        raise ValueError("bandit pool state does not match this pool: " + "; ".join(p.replace("\n", ",") for p in problems))
