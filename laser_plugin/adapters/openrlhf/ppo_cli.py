"""Upstream's own ``train_ppo_ray`` argument parser, for the launcher (help, early parse, examples).

OpenRLHF builds its parser inside ``if __name__ == "__main__":`` and calls ``parse_args()`` at
once, so there is nothing to import. :func:`upstream_parser` runs the module's main block with
``ArgumentParser.parse_args`` intercepted: the parser is captured at the moment upstream would
parse, and the module stops there (nothing after ``parse_args`` runs: no Ray, no model). The
result is upstream's real parser, every flag and default as the installed version has them, plus
the plugin's flag group (already there when the CLI is patched).
"""
from __future__ import annotations

import argparse
import runpy
import sys
from typing import Any, Optional, Sequence

from laser_plugin.adapters.openrlhf.flags import add_laser_arguments

PPO_MODULE = "openrlhf.cli.train_ppo_ray"


class _Captured(BaseException):
    """Raised from the intercepted parse_args; BaseException so upstream code cannot swallow it."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser captured")
        self.parser = parser


_CACHE: dict[str, argparse.ArgumentParser] = {}


def upstream_parser(module: str = PPO_MODULE, with_plugin: bool = True) -> argparse.ArgumentParser:
    """The parser ``python -m MODULE`` builds, with the plugin's group added (once)."""
    if module not in _CACHE:
        original = argparse.ArgumentParser.parse_args

        def capture(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
            raise _Captured(self)

        argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign]
        saved_argv = sys.argv
        try:
            sys.argv = [module]
            runpy.run_module(module, run_name="__main__", alter_sys=False)
        except _Captured as done:
            _CACHE[module] = done.parser
        finally:
            argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
            sys.argv = saved_argv
        if module not in _CACHE:
            raise RuntimeError(f"{module} ran to the end without parsing a command line: not an OpenRLHF CLI module")
    parser = _CACHE[module]
    if with_plugin and "--reward_selector" not in parser._option_string_actions:
        add_laser_arguments(parser)
    return parser


def parse_upstream(argv: Sequence[str], module: str = PPO_MODULE) -> Any:
    """Upstream's parse + ``hierarchize`` of a full launch line (plugin flags included): argparse's
    own errors (an unknown or misspelt upstream flag) exit 2 here, before anything starts."""
    from openrlhf.utils.config import hierarchize

    parser = upstream_parser(module)
    parser.prog = f"python -m laser_plugin.launch {module}"
    return hierarchize(parser.parse_args(list(argv)))


def print_help(module: str = PPO_MODULE, file: Optional[Any] = None) -> None:
    parser = upstream_parser(module)
    parser.prog = f"python -m laser_plugin.launch {module}"
    parser.print_help(file)
