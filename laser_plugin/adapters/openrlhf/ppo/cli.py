"""Upstream's own ``train_ppo_ray`` argument parser, for the launcher (help, early parse, examples).

OpenRLHF builds its parser inside ``if __name__ == "__main__":`` and calls ``parse_args()`` at
once, so there is nothing to import. :func:`upstream_parser` runs the module's main block with
``ArgumentParser.parse_args`` intercepted: the parser is captured at the moment upstream would
parse, and the block stops there (nothing after ``parse_args`` runs: no Ray, no model). The
result is upstream's real parser, every flag and default as the installed version has them, plus
the plugin's flag group (already there when the CLI is patched).

Fast path: the main block alone, with only the module's standard-library imports, is executed from
the installed source file (building the parser needs nothing else, and importing the module would
pull in Ray, vLLM and DeepSpeed: ~10 s on 2 cores); if the block needs more, the whole module is run.
``hierarchize`` is loaded from upstream's ``openrlhf/utils/config.py`` the same way (it imports only
``types``; importing it as ``openrlhf.utils.config`` would import torch and transformers first).
"""
from __future__ import annotations

import argparse
import ast
import builtins
import importlib.util
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


def _is_main_test(node: ast.expr) -> bool:
    return (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "__name__"
            and len(node.comparators) == 1 and isinstance(node.comparators[0], ast.Constant)
            and node.comparators[0].value == "__main__")


def _run_main_block_light(module: str) -> None:
    """Execute only ``MODULE``'s standard-library imports and its ``__main__`` block."""
    spec = importlib.util.find_spec(module)  # locates the file; imports only the parent packages' specs
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ImportError(f"no source file for {module}")
    with open(spec.origin) as fh:
        tree = ast.parse(fh.read(), spec.origin)
    stdlib = sys.stdlib_module_names

    def light(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import):
            return all(a.name.split(".")[0] in stdlib for a in node.names)
        return isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in stdlib

    imports = [n for n in tree.body if light(n)]
    mains = [n for n in tree.body if isinstance(n, ast.If) and _is_main_test(n.test)]
    if not mains:
        raise ImportError(f"{module} has no __main__ block")
    code = compile(ast.Module(body=[*imports, *mains[-1].body], type_ignores=[]), spec.origin, "exec")
    exec(code, {"__name__": "__main__", "__file__": spec.origin, "__builtins__": builtins})


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
            for run in (_run_main_block_light, lambda m: runpy.run_module(m, run_name="__main__", alter_sys=False)):
                try:
                    run(module)
                except _Captured as done:
                    _CACHE[module] = done.parser
                    break
                except (NameError, ImportError):  # the block needs the module's other names: run it all
                    continue
        finally:
            argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
            sys.argv = saved_argv
        if module not in _CACHE:
            raise RuntimeError(f"{module} ran to the end without parsing a command line: not an OpenRLHF CLI module")
    parser = _CACHE[module]
    if with_plugin and "--reward_selector" not in parser._option_string_actions:
        add_laser_arguments(parser)
    if not _cuda():  # the CPU dtype policy's --ds.param_dtype (fp32 without native bf16), as the run gets it
        from laser_plugin.compat.dtype import resolve_param_dtype, widen_param_dtype_action

        widen_param_dtype_action(parser, resolve_param_dtype(announce=False))
    return parser


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def parse_upstream(argv: Sequence[str], module: str = PPO_MODULE) -> Any:
    """Upstream's parse + ``hierarchize`` of a full launch line (plugin flags included): argparse's
    own errors (an unknown or misspelt upstream flag) exit 2 here, before anything starts."""
    parser = upstream_parser(module)
    parser.prog = f"python -m laser_plugin.launch {module}"
    return hierarchize(parser.parse_args(list(argv)))


def hierarchize(args: argparse.Namespace) -> Any:
    """Upstream's ``openrlhf.utils.config.hierarchize``, loaded from its file (see module docstring)."""
    loaded = sys.modules.get("openrlhf.utils.config")
    if loaded is None:
        root = importlib.util.find_spec("openrlhf")
        if root is None or not root.submodule_search_locations:
            raise ImportError("openrlhf is not installed")
        path = f"{list(root.submodule_search_locations)[0]}/utils/config.py"
        spec = importlib.util.spec_from_file_location("laser_plugin._openrlhf_config", path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)  # type: ignore[union-attr]
    return loaded.hierarchize(args)


def print_help(module: str = PPO_MODULE, file: Optional[Any] = None) -> None:
    parser = upstream_parser(module)
    parser.prog = f"python -m laser_plugin.launch {module}"
    parser.print_help(file)
