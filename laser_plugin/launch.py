"""Run an upstream OpenRLHF CLI module with laser_plugin active, without patching OpenRLHF.

    python -m laser_plugin.launch openrlhf.cli.train_dpo --model.model_name_or_path ... [...]

On a CPU-only machine the CPU compatibility shims are applied first (a no-op where CUDA exists), then
the module runs exactly as ``python -m MODULE`` would, with the remaining arguments.
"""
from __future__ import annotations

import runpy
import sys

USAGE = "usage: python -m laser_plugin.launch MODULE [ARGS...]   (e.g. openrlhf.cli.train_ppo_ray)"


def run_module(module: str, argv: list[str]) -> None:
    from laser_plugin.compat import apply_cpu_compat

    apply_cpu_compat()
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        raise SystemExit(0 if argv else 2)
    run_module(argv[0], argv[1:])


if __name__ == "__main__":
    main()
