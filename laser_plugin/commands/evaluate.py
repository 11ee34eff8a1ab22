"""``laser-plugin evaluate``: accuracy per domain (answer extraction) and, for an iterative-dpo run, the
arm-selection share per domain; see ``adapters/openrlhf/inference/evaluate.py``."""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from laser_plugin.commands.dotted_flags import FlagTable, build_parser as _build, cpu_setup, register_pass_through

NAME = "evaluate"
HELP = "accuracy per domain (answer extraction) and arm-selection share per domain"
FLAGS: FlagTable = {
    "eval.predictions": (None, "JSONL with a response column (skip generation)"),
    "eval.response_key": ("response", "response column of --eval.predictions"),
    "eval.run_dir": (None, "an iterative-dpo output dir: adds the arm-selection share per domain"),
    "eval.output": (None, "write the report JSON here"),
    "eval.answer_kind": (None, "number | yes_no | choice | text (default: inferred per label)"),
}


def build_parser() -> argparse.ArgumentParser:
    # accuracy is measured on one greedy answer per prompt unless asked otherwise
    return _build(NAME, HELP, FLAGS, rollout__temperature=0.0, rollout__n_samples_per_prompt=1)


def run(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    cpu_setup()
    from laser_plugin.adapters.openrlhf.dpo.args import hierarchical_light
    from laser_plugin.adapters.openrlhf.inference.evaluate import evaluate

    evaluate(hierarchical_light(ns))
    return 0


def register(subparsers: Any) -> None:
    register_pass_through(subparsers, NAME, HELP, run)


__all__ = ["FLAGS", "build_parser", "register", "run"]
