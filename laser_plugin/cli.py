"""`laser-plugin` command line.

Each subcommand lives in its own module with ``register(subparsers)``, which adds a parser whose
``func(args) -> int`` runs the command; modules are imported lazily by name so that ``--help`` and
``--version`` stay fast and no subcommand's heavy imports leak into another's.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from laser_plugin.version import __version__

# Modules that register subcommands (each defines register(subparsers)).
COMMAND_MODULES = [
    "laser_plugin.commands.patch_openrlhf",
    "laser_plugin.commands.train_router",
    "laser_plugin.commands.iterative_dpo",
    "laser_plugin.commands.best_of_n",
    "laser_plugin.commands.evaluate",
    "laser_plugin.commands.quickstart",
    "laser_plugin.commands.agreement",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laser-plugin",
        description="Bandit-selected reward models (LASeR / BayesianRouter) for OpenRLHF 0.11.x.",
    )
    parser.add_argument("--version", action="version", version=f"laser-plugin {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        # Bad input gets one clear line, not a traceback (set LASER_DEBUG=1 for the traceback).
        import os

        if os.environ.get("LASER_DEBUG"):
            raise
        print(f"laser-plugin {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
