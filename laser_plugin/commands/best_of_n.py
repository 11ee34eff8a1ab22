"""``laser-plugin best-of-n``: rank N candidates per prompt with the bandit-chosen RM (LASeR Sec. 5.3);
see ``adapters/openrlhf/inference/best_of_n.py``."""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from laser_plugin.commands.dotted_flags import FlagTable, build_parser as _build, cpu_setup, laser_config, register_pass_through

NAME = "best-of-n"
HELP = "rank N candidates per prompt with the bandit-chosen RM, write JSONL"
FLAGS: FlagTable = {
    "bon.output": ("best_of_n.jsonl", "ranked candidates per prompt (JSONL)"),
    "data.candidates_key": (None, "column with a list of candidate responses (else: sample them from the policy)"),
    "laser.selector_state": (None, "bandit state learned in training (e.g. OUTPUT_DIR/laser_bandit.safetensors)"),
    "laser.online_signal": ("none", "none | verifier: learn online from whether the top candidate is correct"),
    "laser.save_state": (None, "write the (updated) bandit state here"),
}


def build_parser() -> argparse.ArgumentParser:
    return _build(NAME, HELP, FLAGS)


def run(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    laser = laser_config(ns)
    cpu_setup()
    from laser_plugin.adapters.openrlhf.dpo.args import hierarchical_light
    from laser_plugin.adapters.openrlhf.inference.best_of_n import best_of_n

    best_of_n(hierarchical_light(ns), laser)
    return 0


def register(subparsers: Any) -> None:
    register_pass_through(subparsers, NAME, HELP, run)


__all__ = ["FLAGS", "build_parser", "register", "run"]
