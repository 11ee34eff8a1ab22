"""``laser-plugin iterative-dpo | best-of-n | evaluate``: registration (light) and entry points.

The subparsers take the raw argument list and parse it with the full dotted-flag parser only when
the command runs, so ``laser-plugin --help`` never imports OpenRLHF or the selection core.
"""
from __future__ import annotations

import argparse
from typing import Any, Sequence

BON_FLAGS: dict[str, tuple[Any, str]] = {
    "bon.output": ("best_of_n.jsonl", "ranked candidates per prompt (JSONL)"),
    "data.candidates_key": (None, "column with a list of candidate responses (else: sample them from the policy)"),
    "laser.selector_state": (None, "bandit state learned in training (e.g. OUTPUT_DIR/laser_bandit.npz)"),
    "laser.online_feedback": ("none", "none | verifier: learn online from whether the top candidate is correct"),
    "laser.save_state": (None, "write the (updated) bandit state here"),
}
EVAL_FLAGS: dict[str, tuple[Any, str]] = {
    "eval.predictions": (None, "JSONL with a response column (skip generation)"),
    "eval.response_key": ("response", "response column of --eval.predictions"),
    "eval.run_dir": (None, "an iterative-dpo output dir: adds the arm-selection share per domain"),
    "eval.output": (None, "write the report JSON here"),
    "eval.answer_kind": (None, "number | yes_no | choice | text (default: inferred per label)"),
}

_COMMANDS = {
    "iterative-dpo": ("LASeR iterative DPO: sample, score with one bandit-chosen RM per batch, DPO, repeat",
                      "run_iterative_dpo"),
    "best-of-n": ("rank N candidates per prompt with the bandit-chosen RM, write JSONL", "run_best_of_n"),
    "evaluate": ("accuracy per domain (answer extraction) and arm-selection share per domain", "run_evaluate"),
}


class _PassThrough(argparse.ArgumentParser):
    """A subcommand parser that hands every argument (``--help`` too) to the command's own parser:
    argparse's REMAINDER cannot start with an option such as ``--model.model_name_or_path``."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        ns = namespace if namespace is not None else argparse.Namespace()
        for key, value in self._defaults.items():
            setattr(ns, key, value)
        ns.argv = list(args or [])
        return ns, []


def register(subparsers: Any) -> None:
    for name, (help_text, func) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, add_help=False)
        sub.__class__ = _PassThrough
        sub.set_defaults(func=lambda ns, f=func: globals()[f](ns.argv))


def _parse(prog: str, argv: Sequence[str], extra: dict | None = None, **defaults: Any) -> argparse.Namespace:
    from laser_plugin.adapters.openrlhf.dpo_args import build_parser

    parser = build_parser(prog=f"laser-plugin {prog}", extra=extra, description=_COMMANDS[prog][0])
    parser.set_defaults(**{k.replace("__", "."): v for k, v in defaults.items()})
    return parser.parse_args(list(argv))


def _laser_config(ns: argparse.Namespace, required: bool = True) -> Any:
    from laser_plugin.adapters.openrlhf.flags import config_from_namespace

    laser = config_from_namespace(vars(ns))
    if laser is None and required:
        raise ValueError("--reward_selector NAME and --reward_pool SPECS are required "
                         "(e.g. --reward_selector laser --reward_pool hf:/rm1,hf:/rm2,func:verify.py)")
    return laser


def run_iterative_dpo(argv: Sequence[str]) -> int:
    ns = _parse("iterative-dpo", argv)
    laser = _laser_config(ns)
    from laser_plugin.compat import apply_cpu_compat, use_all_cores

    if apply_cpu_compat():
        use_all_cores()
    from laser_plugin.adapters.openrlhf.dpo_args import hierarchical
    from laser_plugin.adapters.openrlhf.dpo_loop import IterativeDPO

    IterativeDPO(hierarchical(ns), laser).setup().run()
    return 0


def run_best_of_n(argv: Sequence[str]) -> int:
    ns = _parse("best-of-n", argv, BON_FLAGS)
    laser = _laser_config(ns)
    from laser_plugin.compat import apply_cpu_compat, use_all_cores

    if apply_cpu_compat():
        use_all_cores()
    from laser_plugin.adapters.openrlhf.dpo_args import hierarchical_light
    from laser_plugin.adapters.openrlhf.dpo_best_of_n import best_of_n

    best_of_n(hierarchical_light(ns), laser)
    return 0


def run_evaluate(argv: Sequence[str]) -> int:
    # Accuracy is measured on one greedy answer per prompt unless asked otherwise.
    ns = _parse("evaluate", argv, EVAL_FLAGS, rollout__temperature=0.0, rollout__n_samples_per_prompt=1)
    from laser_plugin.compat import apply_cpu_compat, use_all_cores

    if apply_cpu_compat():
        use_all_cores()
    from laser_plugin.adapters.openrlhf.dpo_args import hierarchical_light
    from laser_plugin.adapters.openrlhf.dpo_evaluate import evaluate

    evaluate(hierarchical_light(ns))
    return 0


__all__ = ["register", "run_best_of_n", "run_evaluate", "run_iterative_dpo"]
