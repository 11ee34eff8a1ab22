"""What the OpenRLHF-style subcommands (``iterative-dpo``, ``best-of-n``, ``evaluate``) share.

Their options are OpenRLHF's dotted flags (``--model.model_name_or_path``), parsed by the full
parser only when the command runs, so ``laser-plugin --help`` imports neither OpenRLHF nor the
selection core: the registered subparser hands every argument (``--help`` too) to the command.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, Sequence

FlagTable = dict[str, tuple[Any, str]]  # dotted flag -> (default, help)


class _PassThrough(argparse.ArgumentParser):
    """A subcommand parser that keeps the raw argument list: argparse's REMAINDER cannot start with
    an option such as ``--model.model_name_or_path``."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        ns = namespace if namespace is not None else argparse.Namespace()
        for key, value in self._defaults.items():
            setattr(ns, key, value)
        ns.argv = list(args or [])
        return ns, []


def register_pass_through(subparsers: Any, name: str, help_text: str, run: Callable[[Sequence[str]], int]) -> None:
    sub = subparsers.add_parser(name, help=help_text, add_help=False)
    sub.__class__ = _PassThrough
    sub.set_defaults(func=lambda ns: run(ns.argv))


def build_parser(command: str, description: str, extra: Optional[FlagTable] = None, **defaults: Any) -> argparse.ArgumentParser:
    """The command's full parser: OpenRLHF's DPO flags, the plugin's, and the command's own ``extra``;
    ``defaults`` overrides flag defaults (``rollout__temperature`` for ``--rollout.temperature``)."""
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser as dpo_parser

    parser = dpo_parser(prog=f"laser-plugin {command}", extra=extra, description=description)
    parser.set_defaults(**{k.replace("__", "."): v for k, v in defaults.items()})
    return parser


def laser_config(ns: argparse.Namespace, required: bool = True) -> Any:
    from laser_plugin.adapters.openrlhf.flags import config_from_namespace

    laser = config_from_namespace(vars(ns))
    if laser is None and required:
        raise ValueError("--reward_selector NAME and --reward_pool SPECS are required "
                         "(e.g. --reward_selector laser --reward_pool hf:/rm1,hf:/rm2,func:verify.py)")
    return laser


def cpu_setup() -> None:
    """The CPU twin's patches and every core for this one process (a no-op with CUDA)."""
    from laser_plugin.compat import apply_cpu_compat, use_all_cores

    if apply_cpu_compat():
        use_all_cores()


__all__ = ["FlagTable", "build_parser", "cpu_setup", "laser_config", "register_pass_through"]
