"""Selector / bandit state on disk: safetensors (arrays) + JSON metadata, never pickle.

Nested dicts flatten to "a/b/c" keys; strings become uint8 arrays under a "#str" suffix, None a
"#none" marker, Python scalars 0-d arrays. ``load_state`` returns the flat dict exactly as saved
(``unflatten_state`` rebuilds the nesting).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Union

import numpy as np

FORMAT = "laser_plugin.state/1"
_STR, _NONE = "#str", "#none"


def encode_str(value: str) -> np.ndarray:
    return np.frombuffer(value.encode("utf-8"), dtype=np.uint8).copy()


def decode_str(value: Any) -> str:
    return np.asarray(value, dtype=np.uint8).tobytes().decode("utf-8")


def flatten_state(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(flatten_state(value, f"{prefix}/{key}" if prefix else str(key)))
    elif isinstance(obj, str):
        out[prefix + _STR] = encode_str(obj)
    elif obj is None:
        out[prefix + _NONE] = np.zeros(0, dtype=np.uint8)
    elif hasattr(obj, "detach"):  # torch tensor
        out[prefix] = obj.detach().cpu().numpy()
    else:
        out[prefix] = np.asarray(obj)
    return out


def unflatten_state(flat: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in flat.items():
        if key.endswith(_STR):
            key, value = key[: -len(_STR)], decode_str(value)
        elif key.endswith(_NONE):
            key, value = key[: -len(_NONE)], None
        *parents, leaf = key.split("/")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return root


def _tmp_name(path: Path) -> Path:
    # pid-unique: two processes writing the same file never share (and clobber) one temporary
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (a power loss after os.replace may otherwise lose the new name)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:  # some filesystems do not open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp: Union[str, Path], path: Union[str, Path]) -> None:
    """fsync ``tmp`` and rename it to ``path``: readers see the old file or the complete new one."""
    tmp, path = Path(tmp), Path(path)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary name, fsync, rename)."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        tmp.write_text(text)
        commit_file(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_jsonl(path: Union[str, Path], records: Iterable[dict]) -> None:
    """One JSON object per line, written atomically (a crash leaves the old file or the new, whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(rec, default=str) + "\n" for rec in records))


def save_state(path: Union[str, Path], state: dict[str, Any]) -> None:
    """Write a (nested or flat) state dict to ``path`` atomically."""
    from safetensors.numpy import save_file

    flat = {k: np.ascontiguousarray(v) for k, v in flatten_state(state).items()}
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        save_file(flat, str(tmp), metadata={"format": FORMAT})
        commit_file(tmp, path)  # a crash mid-write never leaves a half-written checkpoint under the real name
    finally:
        tmp.unlink(missing_ok=True)


def load_state(path: Union[str, Path], what: str = "state file") -> dict[str, np.ndarray]:
    """Read a state written by :func:`save_state` (flat keys). Clear errors for missing/corrupt files,
    naming the file as ``what`` (e.g. "bandit pool state")."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one message naming it
        raise ValueError(f"{what} {path} is corrupt or not a safetensors file ({exc}); delete it or "
                         "point to another checkpoint") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{what} {path} is not a laser_plugin state (format {meta.get('format')!r}, "
                         f"expected {FORMAT!r})")
    return state


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
