"""The policy for one-process inference commands: a plain transformers model (no DeepSpeed) and what
OpenRLHF's dataset helpers need from a strategy."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def load_hf_policy(path: str, param_dtype: str = "auto", padding_side: str = "left"):
    """A plain transformers causal LM + OpenRLHF tokenizer (no DeepSpeed) for inference commands."""
    import torch
    from openrlhf.utils import get_tokenizer
    from transformers import AutoModelForCausalLM

    from laser_plugin.compat.dtype import torch_dtype

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(param_dtype), trust_remote_code=True)
    model = model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return model, get_tokenizer(path, model, padding_side)


def local_strategy(args: Any) -> Any:
    """What OpenRLHF's dataset helpers need from a strategy, for one-process inference commands."""
    return SimpleNamespace(args=args, print=print, is_rank_0=lambda: True)


__all__ = ["load_hf_policy", "local_strategy"]
