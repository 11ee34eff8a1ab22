"""Run an upstream OpenRLHF CLI module with laser_plugin active, without patching OpenRLHF.

    python -m laser_plugin.launch openrlhf.cli.train_ppo_ray --reward_selector laser \\
        --reward_pool "hf:/rms/a,hf:/rms/b,func:verify.py" [upstream flags ...]

The ``--reward_selector`` flag family is taken out of argv and activates the plugin (the same
activation the patched CLI calls); everything else goes to the module, which then runs exactly as
``python -m MODULE`` would. On a CPU-only machine the CPU shims are applied first (a no-op where
CUDA exists). Without ``--reward_selector`` the module runs as upstream.

On CPU, ``--ds.param_dtype`` also accepts ``fp32`` and defaults to the CPU dtype policy's choice
(``laser_plugin.compat.dtype``: bf16 only with native bf16 instructions).

``--cpu-rollout`` (first argument) or ``LASER_VLLM_STANDIN=1`` swaps vLLM's engine for the CPU
HF-generate stand-in and starts a local Ray with logical GPUs before the module runs
(``laser_plugin.testing.vllm_standin``): a CPU dry run of a PPO/GRPO launch script.
"""
from __future__ import annotations

import contextlib
import os
import runpy
import sys

USAGE = (
    "usage: python -m laser_plugin.launch [--cpu-rollout] MODULE [--reward_selector NAME --reward_pool SPECS "
    "[--reward_selector.OPTION VALUE ...]] [MODULE ARGS...]   (e.g. MODULE = openrlhf.cli.train_ppo_ray)"
)


PPO_MODULE = "openrlhf.cli.train_ppo_ray"


def activate_plugin(argv: list[str], module: str = PPO_MODULE) -> list[str]:
    """Apply the CPU shims; if the flag family is present, check everything that can be checked
    without workers (for train_ppo_ray the whole line through upstream's own parser, then the
    plugin's preflight) and activate the plugin. Returns the argv left for the upstream module.
    Bad plugin input raises ValueError (a bad upstream flag exits 2 in argparse) before Ray starts."""
    from laser_plugin.compat import apply_cpu_compat

    if apply_cpu_compat():
        export_cpu_param_dtype(argv)
    if not any(a.startswith(("--reward_selector", "--reward_pool")) for a in argv):
        return argv
    from laser_plugin.adapters.openrlhf.activate import launcher_argv
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv

    config, rest = parse_laser_argv(argv)
    args = None
    if config is not None:
        from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

        preflight(config)  # selector and pool first: seconds, before upstream's heavy imports
        if module == PPO_MODULE:
            from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream

            with _param_dtype_flag():
                args = parse_upstream(argv, module)
    return launcher_argv(config, rest, args)


def export_cpu_param_dtype(argv: list[str]) -> str:
    """CPU only: the run's --ds.param_dtype (explicit, else the CPU dtype policy's choice), exported
    before Ray starts so every worker's models and the vLLM stand-in compute in the same dtype."""
    from laser_plugin.compat.dtype import export_param_dtype, param_dtype_in_argv

    return export_param_dtype(param_dtype_in_argv(argv))


def _param_dtype_flag() -> contextlib.AbstractContextManager:
    """On CPU, upstream's --ds.param_dtype also accepts fp32 and defaults to the exported choice."""
    from laser_plugin.compat import cpu_compat_applied
    from laser_plugin.compat.dtype import ENV, widen_param_dtype_choices

    if not cpu_compat_applied() or ENV not in os.environ:
        return contextlib.nullcontext()
    return widen_param_dtype_choices(default=os.environ[ENV])


def _run(module: str, argv: list[str]) -> None:
    sys.argv = [module, *argv]
    with _rollout_session(), _param_dtype_flag():
        runpy.run_module(module, run_name="__main__", alter_sys=True)


def run_module(module: str, argv: list[str]) -> None:
    """Programmatic form of ``python -m laser_plugin.launch MODULE ARGS...``."""
    _run(module, activate_plugin(argv, module))


CPU_ROLLOUT_FLAG, CPU_ROLLOUT_ENV = "--cpu-rollout", "LASER_VLLM_STANDIN"


def _rollout_session() -> contextlib.AbstractContextManager:
    """CPU rollouts through the vLLM stand-in (Ray started here so its workers get it too), if asked."""
    if os.environ.get(CPU_ROLLOUT_ENV) != "1":
        return contextlib.nullcontext()
    from laser_plugin.testing.vllm_standin import cpu_rollout_session

    return cpu_rollout_session()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        raise SystemExit(0 if argv else 2)
    if argv[0] == CPU_ROLLOUT_FLAG:
        os.environ[CPU_ROLLOUT_ENV] = "1"
        argv = argv[1:]
    module, rest = argv[0], argv[1:]
    if module == PPO_MODULE and any(a in ("-h", "--help") for a in rest):
        from laser_plugin.compat import apply_cpu_compat

        if apply_cpu_compat():
            export_cpu_param_dtype(rest)
        from laser_plugin.adapters.openrlhf.ppo.cli import print_help

        with _param_dtype_flag():
            print_help(module)  # upstream's help plus the plugin's flag group
        raise SystemExit(0)
    try:
        rest = activate_plugin(rest, module)
    except ValueError as err:  # our flags only: upstream errors keep their own handling
        print(f"laser_plugin.launch: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    _run(module, rest)


if __name__ == "__main__":
    main()
