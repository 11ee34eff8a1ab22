"""Context encoders: prompt text -> bandit context vectors [N, dim] (float64, last column a bias 1).

* ``hashing``: hashed unigrams + bigrams of the prompt (signed feature hashing), L2-normalised to
  dim-1 features, plus a bias. No model, deterministic across processes (blake2b, not Python's
  salted ``hash``): the cheap default and the one tests use.
* ``hf:PATH``: mean-pooled (or last-token) hidden states of a transformers model, projected by the
  core's ``ContextFeaturizer`` (seeded random projection, L2-normalised, + bias).
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol, Sequence

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")


class ContextEncoder(Protocol):
    dim: int

    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


class HashingContextEncoder:
    def __init__(self, dim: int, seed: int = 0) -> None:
        if dim < 2:
            raise ValueError(f"context dim must be >= 2 (features + bias), got {dim}")
        self.dim, self.seed = int(dim), int(seed)
        self._key = self.seed.to_bytes(8, "little", signed=True)

    def _slot(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8, key=self._key).digest()
        value = int.from_bytes(digest, "little")
        return value % (self.dim - 1), (1.0 if (value >> 63) & 1 else -1.0)

    def encode_one(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        feats = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        vec = np.zeros(self.dim, dtype=np.float64)
        for feat in feats:
            slot, sign = self._slot(feat)
            vec[slot] += sign
        norm = np.linalg.norm(vec[:-1])
        if norm > 0:
            vec[:-1] /= norm
        vec[-1] = 1.0
        return vec

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.encode_one(t) for t in texts]) if len(texts) else np.zeros((0, self.dim))


class HFContextEncoder:
    """Hidden states of a transformers model (loaded on first use), pooled and projected."""

    def __init__(self, model_path: str, dim: int, pooling: str = "mean", max_len: int = 512, seed: int = 0,
                 device: str = "cpu") -> None:
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        self.model_path, self.dim, self.pooling = model_path, int(dim), pooling
        self.max_len, self.seed, self.device = int(max_len), int(seed), device
        self._model: Any = None
        self._tokenizer: Any = None
        self._featurizer: Any = None

    def _load(self) -> None:
        import torch  # noqa: F401 - transformers needs it anyway
        from transformers import AutoModel, AutoTokenizer

        from laser_plugin.compat.dtype import torch_dtype
        from laser_plugin.core.features import ContextFeaturizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        # On CPU the encoder follows the CPU dtype policy (bf16 is emulated, ~50x slower, without native bf16).
        dtype = {} if self.device != "cpu" else {"dtype": torch_dtype()}
        self._model = AutoModel.from_pretrained(self.model_path, **dtype).to(self.device).eval()
        hidden = int(self._model.config.hidden_size)
        self._featurizer = ContextFeaturizer(hidden, self.dim, seed=self.seed, bias=True, pooling=self.pooling)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        enc = self._tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True,
                              max_length=self.max_len, add_special_tokens=False)
        with torch.no_grad():
            out = self._model(input_ids=enc["input_ids"].to(self.device),
                              attention_mask=enc["attention_mask"].to(self.device))
        hidden = out.last_hidden_state.float().cpu()
        return np.asarray(self._featurizer(hidden, enc["attention_mask"]), dtype=np.float64)


def make_context_encoder(name: str, dim: int, seed: int = 0, **kwargs: Any) -> ContextEncoder:
    """``"hashing"`` or ``"hf:PATH"`` (kwargs: pooling, max_len, device)."""
    if name == "hashing":
        return HashingContextEncoder(dim, seed)
    if name.startswith("hf:") and len(name) > 3:
        return HFContextEncoder(name[3:], dim, seed=seed, **kwargs)
    raise ValueError(f"unknown context encoder {name!r}; valid: 'hashing', 'hf:PATH'")
