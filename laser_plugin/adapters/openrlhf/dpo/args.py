"""Flags of ``laser-plugin iterative-dpo`` / ``best-of-n`` / ``evaluate``, in OpenRLHF's dotted style.

Upstream names and defaults (``openrlhf/cli/train_dpo.py``, ``train_ppo_ray.py`` for ``--rollout.*``
and ``--vllm.*``) are reused so a ``train_dpo`` command line carries over (restated here: upstream builds
its parser inside ``__main__``); the plugin adds ``--laser.*``, generated from ``LoopConfig`` (loop, pairs,
feedback) and ``--reward_selector`` / ``--reward_pool`` /
``--reward_selector.<option>`` (shared with the PPO launcher, ``flags.py``). The parsed namespace is
turned into OpenRLHF's hierarchical ``args`` with upstream's own ``hierarchize``.
"""
from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from laser_plugin.cli_fields import add_options
from laser_plugin.compat.dtype import AUTO, PARAM_DTYPES, export_param_dtype

# (default, help). bool defaults become store_true flags; tuples become nargs lists.
UPSTREAM: dict[str, tuple[Any, str]] = {
    "model.model_name_or_path": (None, "starting policy (also the DPO reference unless --ref.model_name_or_path)"),
    "ref.model_name_or_path": (None, "DPO reference model (default: the starting policy, kept fixed)"),
    "ref.offload": (False, ""),
    "model.beta": (0.1, "DPO beta"),
    "model.ipo_enable": (False, "IPO loss instead of DPO"),
    "model.label_smoothing": (0.0, "cDPO label smoothing"),
    "model.nll_loss_coef": (0.0, "NLL on the chosen response (LASeR uses it for reasoning tasks)"),
    "model.aux_loss_coef": (0.0, "MoE balancing loss"),
    "model.gradient_checkpointing_enable": (False, ""),
    "model.gradient_checkpointing_reentrant": (False, ""),
    "data.dataset": (None, "prompt dataset(s): JSONL/JSON/parquet, a save_to_disk folder or an HF dataset; comma-separated"),
    "data.dataset_probs": (None, "mixture probabilities for several datasets"),
    "data.dataset_split": ("train", ""),
    "data.max_samples": (1000000, ""),
    "data.prompt_key": ("prompt", "prompt column"),
    "data.label_key": (None, "gold-answer column (verifier arms, the verifier signal, evaluate)"),
    "data.domain_key": (None, "optional domain column, kept for per-domain analysis"),
    "data.chosen_key": ("chosen", "chosen column of the probe set"),
    "data.rejected_key": ("rejected", "rejected column of the probe set"),
    "data.input_template": (None, ""),
    "data.apply_chat_template": (False, "format prompts with the tokenizer's chat template"),
    "data.tokenizer_chat_template": (None, ""),
    "data.max_len": (1024, "max tokens of prompt + response in DPO"),
    "data.disable_fast_tokenizer": (False, ""),
    "data.dataloader_num_workers": (0, ""),
    "rollout.n_samples_per_prompt": (4, "N responses sampled per prompt"),
    "rollout.temperature": (0.8, "sampling temperature (the samples must differ)"),
    "rollout.top_p": (1.0, ""),
    "rollout.max_new_tokens": (128, ""),
    "rollout.prompt_max_len": (512, "prompts are truncated to this many tokens for sampling"),
    "rollout.batch_size": (32, "sequences per HF generate call (CPU path)"),
    "vllm.num_engines": (0, "vLLM engines for sampling (GPU); 0: HF generate"),
    "vllm.tensor_parallel_size": (1, ""),
    "vllm.gpu_memory_utilization": (0.5, ""),
    "vllm.enforce_eager": (False, ""),
    "train.micro_batch_size": (1, "pairs per GPU per micro-batch"),
    "train.batch_size": (8, "pairs per optimizer step (global)"),
    "train.max_epochs": (1, "epochs over each round's pairs"),
    "train.seed": (42, ""),
    "train.full_determinism_enable": (False, ""),
    "train.dynamic_batch_enable": (False, ""),
    "ds.zero_stage": (2, ""),
    "ds.param_dtype": ("auto", "auto | bf16 | fp16 | fp32; auto: bf16 on GPU, on CPU bf16 only where the CPU has "
                               "native bf16 (AVX512-BF16/AMX), else fp32 (override: LASER_CPU_DTYPE)"),
    "ds.attn_implementation": (None, "default: flash_attention_2 with CUDA, sdpa without"),
    "ds.experts_implementation": (None, ""),
    "ds.use_liger_kernel": (False, ""),
    "ds.zpg": (1, ""),
    "ds.adam_offload": (False, ""),
    "ds.grad_accum_dtype": (None, ""),
    "ds.overlap_comm": (False, ""),
    "ds.tensor_parallel_size": (1, ""),
    "ds.ring_attn_size": (1, ""),
    "ds.ring_attn_head_stride": (1, ""),
    "ds.deepcompile": (False, ""),
    "ds.packing_samples": (False, ""),
    "ds.load_in_4bit": (False, ""),
    "ds.use_universal_ckpt": (False, ""),
    "ds.lora.rank": (0, "LoRA rank (LASeR used LoRA)"),
    "ds.lora.alpha": (16, ""),
    "ds.lora.dropout": (0.0, ""),
    "ds.lora.target_modules": (("all-linear",), ""),
    "optim": ("adam", "adam | muon"),
    "adam.lr": (5e-7, ""),
    "adam.betas": ((0.9, 0.95), ""),
    "adam.eps": (1e-8, ""),
    "adam.weight_decay": (0.0, ""),
    "muon.lr": (0.02, ""),
    "muon.momentum": (0.95, ""),
    "muon.ns_steps": (5, ""),
    "muon.nesterov": (True, ""),
    "lr_scheduler": ("cosine_with_min_lr", ""),
    "lr_warmup_ratio": (0.03, ""),
    "min_lr_ratio": (0.1, ""),
    "max_norm": (1.0, "gradient clipping"),
    "ckpt.output_dir": ("./ckpt/laser_dpo", "final HF model, per-round samples/pairs/summaries, bandit state"),
    "ckpt.path": (None, "DeepSpeed + bandit checkpoints per round (default: OUTPUT_DIR/checkpoints)"),
    "ckpt.save_hf": (False, "also save an HF model per round"),
    "ckpt.max_num": (1000, "round checkpoints kept (oldest deleted first)"),
    "ckpt.max_mem": (100000000, ""),
    "ckpt.load_enable": (False, "resume from the latest round checkpoint under --ckpt.path"),
    "ckpt.save_steps": (-1, ""),
    "ckpt.disable_ds": (False, "skip the DeepSpeed state per round (bandit state still saved; no resume)"),
    "eval.steps": (-1, ""),
    "logger.logging_steps": (1, ""),
    "logger.tensorboard_dir": (None, ""),
    "logger.wandb.key": (None, ""),
    "logger.wandb.org": (None, ""),
    "logger.wandb.group": (None, ""),
    "logger.wandb.project": ("laser_iterative_dpo", ""),
    "logger.wandb.run_name": ("laser_dpo_%s" % datetime.now().strftime("%m%dT%H:%M"), ""),
    "local_rank": (-1, "set by the deepspeed launcher"),
    "use_ms": (False, ""),
}

def _add(parser: argparse.ArgumentParser, table: dict[str, tuple[Any, str]]) -> None:
    for name, (default, help_text) in table.items():
        flag = f"--{name}"
        if isinstance(default, bool):
            parser.add_argument(flag, dest=name, action="store_true", default=default, help=help_text or None)
        elif isinstance(default, tuple):
            kind = type(default[0])
            parser.add_argument(flag, dest=name, type=kind, nargs="+" if kind is str else len(default),
                                default=list(default), help=help_text or None)
        else:
            kind = str if default is None else type(default)
            choices = (AUTO, *PARAM_DTYPES) if name == "ds.param_dtype" else None
            parser.add_argument(flag, dest=name, type=kind, default=default, choices=choices, help=help_text or None)


def build_parser(prog: str = "laser-plugin iterative-dpo", extra: dict[str, tuple[Any, str]] | None = None,
                 description: str = "") -> argparse.ArgumentParser:
    from laser_plugin.adapters.openrlhf.dpo.setup import LoopConfig
    from laser_plugin.adapters.openrlhf.flags import add_laser_arguments

    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    _add(parser, UPSTREAM)
    add_options(parser, LoopConfig, prefix="laser.")
    if extra:
        _add(parser, extra)
    add_laser_arguments(parser, elsewhere=PPO_ONLY_FLAGS)
    return parser


# --reward_selector.* options of PPO/GRPO that iterative DPO takes as --laser.* (its signals differ)
PPO_ONLY_FLAGS = {
    "signal": "iterative DPO's bandit signal is --laser.signal (loss|probe|verifier|audit|auto)",
    "probe_dataset": "iterative DPO's probe pairs are --laser.probe_dataset",
    "audit_share": "iterative DPO's audit share is --laser.audit_share",
    "verifier": "iterative DPO's verifier signal reads the answers of --data.label_key (--laser.signal "
                "verifier); it names no arm",
}


def hierarchical_light(ns: argparse.Namespace) -> Any:
    """Nested args with only the dtype resolved (inference commands need no model fix-ups)."""
    from openrlhf.utils.config import hierarchize

    args = hierarchize(argparse.Namespace(**vars(ns)))
    # "auto" becomes a concrete --ds.param_dtype for OpenRLHF's loaders (and for every other model of
    # the process: hf: arms, encoders).
    args.ds.param_dtype = export_param_dtype(args.ds.param_dtype)
    return args


def hierarchical(ns: argparse.Namespace) -> Any:
    """OpenRLHF's nested args from the flat dotted namespace, with the train_dpo fix-ups."""
    import torch

    args = hierarchical_light(ns)
    if not args.model.model_name_or_path:
        raise ValueError("--model.model_name_or_path is required")
    if not args.ref.model_name_or_path:
        args.ref.model_name_or_path = args.model.model_name_or_path
    if args.ds.attn_implementation is None:
        args.ds.attn_implementation = "flash_attention_2" if torch.cuda.is_available() else "sdpa"
    if args.data.input_template and "{}" not in args.data.input_template:
        args.data.input_template = None
    if args.ckpt.path is None:
        import os

        args.ckpt.path = os.path.join(args.ckpt.output_dir, "checkpoints")
    return args


__all__ = ["UPSTREAM", "build_parser", "hierarchical", "hierarchical_light"]
