"""Build OpenRLHF's own DeepspeedStrategy outside its CLIs (for pool actors and in-process loops).

OpenRLHF threads a hierarchical ``args`` namespace through ``strategy.args``; its CLIs build it with
argparse + ``hierarchize``. We build the same shape from a flat dotted dict with upstream's
``hierarchize`` so every reader of ``strategy.args.x.y`` finds what the CLI would give it.
"""
from __future__ import annotations

from argparse import Namespace
from typing import Any

# The subset of OpenRLHF CLI defaults that DeepspeedStrategy, the RM loader and the eval config read.
EVAL_DEFAULTS: dict[str, Any] = {
    "local_rank": -1,
    "max_norm": 1.0,
    "optim": "adam",
    "train.seed": 42,
    "train.full_determinism_enable": False,
    "train.micro_batch_size": 1,
    "train.batch_size": 1,
    "train.dynamic_batch_enable": False,
    "ds.zero_stage": 0,
    "ds.attn_implementation": "sdpa",
    "ds.experts_implementation": None,
    "ds.load_in_4bit": False,
    "ds.packing_samples": False,
    "ds.value_head_prefix": "score",
    "ds.ring_attn_size": 1,
    "ds.ring_attn_head_stride": 1,
    "ds.tensor_parallel_size": 1,
    "ds.adam_offload": False,
    "ds.zpg": 1,
    "ds.grad_accum_dtype": None,
    "ds.overlap_comm": False,
    "ds.deepcompile": False,
    "ds.use_universal_ckpt": False,
    "reward.normalize_enable": False,
    "reward.offload": False,
    "ref.offload": False,
}


def strategy_args(**dotted: Any) -> Any:
    """OpenRLHF-shaped hierarchical args. Keys are dotted flag names with '.' (or '__' in kwargs)."""
    from openrlhf.utils.config import hierarchize

    from laser_plugin.compat.dtype import resolve_param_dtype

    # bf16 on GPU; on CPU the CPU dtype policy's choice (bf16 only with native bf16 instructions).
    flat = {**EVAL_DEFAULTS, "ds.param_dtype": resolve_param_dtype(announce=False)}
    for key, value in dotted.items():
        flat[key.replace("__", ".")] = value
    return hierarchize(Namespace(**flat))


def make_strategy(args: Any = None, **dotted: Any):
    """A DeepspeedStrategy through OpenRLHF's ``get_strategy`` (not yet distributed-initialised)."""
    from openrlhf.utils import get_strategy

    return get_strategy(args if args is not None else strategy_args(**dotted))
