"""Everything the iterative DPO loop keeps loaded across rounds, built once with OpenRLHF's own code.

Mirrors ``openrlhf/cli/train_dpo.py`` (strategy, Actor policy + fixed reference, tokenizer,
``strategy.prepare``), (the bandit pool and context featuriser: ``adapters/openrlhf/bandit.py``). Loading once and calling
``DPOTrainer.fit`` per round costs ~40 s per SmolLM2 round on 2 cores versus 68-87 s when
relaunching the CLIs per round (shared/notes/cpu-timings.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from laser_plugin.cli_fields import option, option_values
from laser_plugin.dpo.credit import DPO_SIGNALS, default_dpo_signal
from laser_plugin.dpo.preference import PairConfig

CONTEXTS = ("policy", "encoder")


@dataclass
class LoopConfig:
    """The iterative-DPO loop's own options, ``--laser.<name>`` on the command line."""

    rounds: int = option(2, "DPO rounds (sample -> score -> pairs -> train)")
    prompts_per_round: int = option(0, "prompts sampled (seeded) per round; 0: all")
    score_batch_size: int = option(8, "prompts per pool call; one bandit decision per prompt (with "
                                      "--reward_selector.granularity batch: per call, LASeR's batch-level choice)")
    pair: PairConfig = field(default_factory=PairConfig)
    signal: Optional[str] = option(
        None, f"bandit reward: {' | '.join(DPO_SIGNALS)}; default: verifier (answer correctness) with "
        "--data.label_key, audit (cross-arm consensus on a seeded share of decisions) without, as "
        "benchmarks/bench_learning_quality.py measured; loss: LASeR's -loss, which pays easy-to-fit arms; "
        "auto: verifier where labels order a decision's responses, audit for the rest", old_names=("feedback_signal",))
    probe_dataset: Optional[str] = option(None, "trusted pairs (prompt/chosen/rejected) for --laser.signal probe")
    audit_share: Optional[float] = option(None, "share of decisions audited by every arm under --laser.signal "
                                                "audit|auto, one in each run of ~1/share decisions (default "
                                                "0.25/(K-1): scoring <= 1.25x one arm)")
    context: str = option("policy", "policy: LASeR's context (policy hidden state of the prompts' last token); "
                                    "encoder: --reward_selector.context_encoder on the prompt text")
    resume_round: int = option(-1, "resume after this finished round (default with --ckpt.load_enable: the latest)")
    save_samples: bool = option(True, "do not write per-round samples/pairs JSONL")
    labelled: bool = False  # the prompts carry labels (--data.label_key): picks the default signal

    def __post_init__(self) -> None:
        if self.signal is None:
            self.signal = default_dpo_signal(self.labelled)
        if self.rounds < 1 or self.prompts_per_round < 0 or self.score_batch_size < 1:
            raise ValueError("--laser.rounds and --laser.score_batch_size must be >= 1, --laser.prompts_per_round >= 0")
        if self.signal not in DPO_SIGNALS:
            raise ValueError(f"--laser.signal must be one of {DPO_SIGNALS}, got {self.signal!r}")
        if self.signal == "probe" and not self.probe_dataset:
            raise ValueError("--laser.signal probe needs --laser.probe_dataset (trusted prompt/chosen/rejected pairs)")
        if self.audit_share is not None and not 0.0 < self.audit_share <= 1.0:
            raise ValueError(f"--laser.audit_share must be in (0, 1], got {self.audit_share}")
        if self.context not in CONTEXTS:
            raise ValueError(f"--laser.context must be one of {CONTEXTS}, got {self.context!r}")

    @classmethod
    def from_args(cls, args: Any) -> "LoopConfig":
        """From OpenRLHF-style hierarchical args (``args.laser.*`` as ``add_options(..., prefix="laser.")`` made them)."""
        return cls(**option_values(cls, vars(args.laser)), labelled=bool(args.data.label_key))

    def max_pairs_per_prompt(self, n_samples: int) -> int:
        if self.pair.strategy == "best_worst":
            return 1
        if self.pair.strategy == "top_bottom_k":
            return min(self.pair.k, n_samples // 2)
        return self.pair.max_pairs_per_prompt or n_samples * (n_samples - 1) // 2


def lora_target_modules(value: Any) -> Any:
    """peft reads the string ``"all-linear"`` as every linear layer but a list holding it as a module
    name (then fails: "Target modules {'all-linear'} not found"); argparse's nargs gives a list."""
    if isinstance(value, str):
        return value
    names = list(value or [])
    return "all-linear" if names in ([], ["all-linear"]) else names


def build_models(args: Any):
    """strategy, policy, reference and tokenizer as train_dpo builds them (not yet prepared)."""
    from openrlhf.models import Actor
    from openrlhf.utils import get_strategy, get_tokenizer

    strategy = get_strategy(args)
    strategy.setup_distributed()
    model = Actor(args.model.model_name_or_path, attn_implementation=args.ds.attn_implementation,
                  experts_implementation=args.ds.experts_implementation, param_dtype=args.ds.param_dtype,
                  load_in_4bit=args.ds.load_in_4bit, lora_rank=args.ds.lora.rank, lora_alpha=args.ds.lora.alpha,
                  lora_dropout=args.ds.lora.dropout, target_modules=lora_target_modules(args.ds.lora.target_modules),
                  ds_config=strategy.get_ds_train_config(), packing_samples=args.ds.packing_samples,
                  use_liger_kernel=args.ds.use_liger_kernel)
    tokenizer = get_tokenizer(args.model.model_name_or_path, model.model, "right", strategy,
                              use_fast=not args.data.disable_fast_tokenizer)
    if args.data.tokenizer_chat_template:
        tokenizer.chat_template = args.data.tokenizer_chat_template
    # The reference stays the starting model for every round (the released LASeR code used the
    # policy as its own reference, which zeroes the DPO gradient).
    ref_model = Actor(args.ref.model_name_or_path, attn_implementation=args.ds.attn_implementation,
                      experts_implementation=args.ds.experts_implementation, param_dtype=args.ds.param_dtype,
                      load_in_4bit=args.ds.load_in_4bit, ds_config=strategy.get_ds_eval_config(offload=args.ref.offload),
                      packing_samples=args.ds.packing_samples)
    if args.ref.offload:
        ref_model._offload = True
    get_tokenizer(args.model.model_name_or_path, ref_model.model, "right", strategy,
                  use_fast=not args.data.disable_fast_tokenizer)
    if args.model.gradient_checkpointing_enable:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": args.model.gradient_checkpointing_reentrant})
    return strategy, model, ref_model, tokenizer


def prepare(strategy: Any, args: Any, model: Any, ref_model: Any, steps: int):
    """DeepSpeed engines: (policy, optimizer, scheduler), reference."""
    cfg = dict(optim=args.optim, muon=vars(args.muon), adam=vars(args.adam), lr_scheduler=args.lr_scheduler,
               lr_warmup_ratio=args.lr_warmup_ratio, min_lr_ratio=args.min_lr_ratio, max_norm=args.max_norm,
               scheduler_steps=steps)
    (model, optim, scheduler), ref_model = strategy.prepare((model, cfg), ref_model)
    return model, optim, scheduler, ref_model


def scheduler_steps(args: Any, loop: LoopConfig, num_prompts: int) -> int:
    """Upper bound of optimizer steps over all rounds (the LR schedule is built once, up front)."""
    per_round = (loop.prompts_per_round or num_prompts) * loop.max_pairs_per_prompt(args.rollout.n_samples_per_prompt)
    return max(1, math.ceil(per_round / args.train.batch_size) * loop.rounds * args.train.max_epochs)


__all__ = ["CONTEXTS", "LoopConfig", "build_models", "prepare", "scheduler_steps"]
