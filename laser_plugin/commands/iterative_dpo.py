"""``laser-plugin iterative-dpo``: LASeR's iterative DPO on OpenRLHF (sample, score with one
bandit-chosen RM per decision, DPO, repeat); see ``adapters/openrlhf/dpo/loop.py``."""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from laser_plugin.commands.dotted_flags import build_parser as _build, cpu_setup, laser_config, register_pass_through

NAME = "iterative-dpo"
HELP = "LASeR iterative DPO: sample, score with one bandit-chosen RM per batch, DPO, repeat"


def build_parser() -> argparse.ArgumentParser:
    return _build(NAME, HELP)


def run(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    laser = laser_config(ns)
    cpu_setup()
    from laser_plugin.adapters.openrlhf.dpo.args import hierarchical
    from laser_plugin.adapters.openrlhf.dpo.loop import IterativeDPO

    IterativeDPO(hierarchical(ns), laser).setup().run()
    return 0


def register(subparsers: Any) -> None:
    register_pass_through(subparsers, NAME, HELP, run)


__all__ = ["build_parser", "register", "run"]
