"""Turn the plugin on for an OpenRLHF PPO/GRPO run: one function behind both ways in.

* launcher: ``python -m laser_plugin.launch openrlhf.cli.train_ppo_ray --reward_selector laser ...``
  parses the flag family out of argv (``flags.parse_laser_argv``) and calls :func:`activate`;
* patch: ``laser-plugin patch-openrlhf`` adds the flags to upstream's parser and calls
  :func:`activate_from_args` after ``hierarchize``.

Activation (driver): export the config for Ray workers, make OpenRLHF's reward group a pool of
``LaserRewardShard``s, install the trainer hooks on import, and start Ray with a runtime env whose
``worker_process_setup_hook`` (``laser_plugin.compat.cpu.ray_worker_setup``, which runs the
``LASER_WORKER_SETUP`` entries) repeats the installation in every worker: Ray pickles classes by
reference, so a driver-side patch alone would never reach the PPOTrainer actor. Without the flag
nothing here runs and OpenRLHF behaves exactly as upstream.
"""
from __future__ import annotations

import functools
import os
import sys
from typing import Any, Optional

from laser_plugin.config import POOL_SENTINEL, LaserConfig

# Registered for Ray workers through LASER_WORKER_SETUP (run by compat's worker setup hook).
WORKER_SETUP = "laser_plugin.adapters.openrlhf.activate:install_hooks"
# train_ppo_ray's own ray.init env defaults, kept when we start Ray first.
_UPSTREAM_RAY_ENV = {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": "1"}


def install_hooks() -> None:
    """Per process: when OpenRLHF's PPO trainer module loads, swap its experience maker and have every
    trainer hand itself to the maker it built (``LaserExperienceMaker.attach``)."""
    from laser_plugin.compat.cpu import when_imported

    when_imported("openrlhf.trainer.ppo_trainer", _swap_experience_maker)


def _swap_experience_maker(ppo_trainer_module: Any) -> None:
    from laser_plugin.adapters.openrlhf.ppo.experience import LaserExperienceMaker

    ppo_trainer_module.RemoteExperienceMaker = LaserExperienceMaker
    base = ppo_trainer_module.BasePPOTrainer
    upstream_init = base.__init__
    if getattr(upstream_init, "_laser_attach", False):
        return

    @functools.wraps(upstream_init)
    def init_then_attach(self: Any, *args: Any, **kwargs: Any) -> None:
        upstream_init(self, *args, **kwargs)
        if isinstance(getattr(self, "experience_maker", None), LaserExperienceMaker):
            self.experience_maker.attach(self)

    init_then_attach._laser_attach = True  # type: ignore[attr-defined]
    base.__init__ = init_then_attach


def init_ray() -> None:
    """Start or join Ray with a runtime env whose worker setup hook installs the plugin (before
    train_ppo_ray's own ray.init, which then does nothing). On a CPU-only machine: a local Ray on
    127.0.0.1 with logical GPUs; with --cpu-rollout the launcher's rollout session starts it instead."""
    import ray
    import torch

    from laser_plugin.compat.ray_local import PASS_THROUGH_ENV, cpu_ray_runtime_env, init_local_ray

    if ray.is_initialized() or os.environ.get("LASER_VLLM_STANDIN") == "1":
        return
    if torch.cuda.is_available() or os.environ.get("RAY_ADDRESS"):
        env = {k: os.environ.get(k, v) for k, v in _UPSTREAM_RAY_ENV.items()}
        env.update({k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ})
        ray.init(runtime_env={"worker_process_setup_hook": "laser_plugin.compat.cpu.ray_worker_setup",
                              "env_vars": env})
        return
    init_local_ray(num_cpus=int(os.environ.get("LASER_CPU_RAY_CPUS", "8")),
                   num_gpus=int(os.environ.get("LASER_CPU_RAY_GPUS", "4")), runtime_env=cpu_ray_runtime_env())


def activate(config: LaserConfig) -> None:
    """Driver-side activation (idempotent)."""
    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.compat.cpu import register_worker_setup

    apply_cpu_compat()
    config.export()
    register_worker_setup(WORKER_SETUP)
    import openrlhf.trainer.ray.launcher as launcher

    from laser_plugin.adapters.openrlhf.ppo.reward_shard import LaserRewardShard

    # train_ppo_ray does `from openrlhf.trainer.ray.launcher import RewardModelActor`: rebind the
    # module attribute (launcher: before the CLI module runs) and the already-imported name (patch:
    # activation runs inside the CLI's __main__).
    launcher.RewardModelActor = LaserRewardShard
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "RewardModelActor", None) is not None:
        main.RewardModelActor = LaserRewardShard
    install_hooks()
    init_ray()


DYNAMIC_FILTERING_FLAG = "--algo.dynamic_filtering_enable"


def defer_dynamic_filtering(main_module: Any = None) -> None:
    """``--algo.dynamic_filtering_enable`` with the pool: upstream's CLI asserts that a remote RM or an
    agent gives the rewards (it filters on their per-sample scores, computed during generation). The
    pool scores each prompt group during generation too (``ppo.experience.LaserExperienceMaker``), so
    the flag is held back from that one assert and set again when ``train()`` builds its strategy,
    before anything is shipped to Ray. ``main_module``: the CLI's namespace when it is already
    running (patched CLI), else the launcher rebinds ``openrlhf.utils.get_strategy`` before it runs."""
    import openrlhf.utils as utils

    real = getattr(utils.get_strategy, "__wrapped__", utils.get_strategy)

    def get_strategy(args: Any) -> Any:  # one shot: the first strategy is train()'s
        utils.get_strategy = real
        if main_module is not None and getattr(main_module, "get_strategy", None) is get_strategy:
            main_module.get_strategy = real
        args.algo.dynamic_filtering_enable = True
        return real(args)

    get_strategy.__wrapped__ = real  # type: ignore[attr-defined]
    utils.get_strategy = get_strategy
    if main_module is not None and getattr(main_module, "get_strategy", None) is not None:
        main_module.get_strategy = get_strategy


def _cli_error(err: Exception) -> None:
    print(f"{os.path.basename(sys.argv[0] or 'train_ppo_ray.py')}: error: {err}", file=sys.stderr)
    raise SystemExit(2) from None


def activate_from_args(args: Any) -> Any:
    """Patched-CLI entry: no-op (upstream behaviour) without --reward_selector. Every check runs here,
    right after upstream's parse, before Ray starts; a refusal exits 2 like an argparse error."""
    from laser_plugin.adapters.openrlhf.flags import config_from_hierarchical_args
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    try:
        config = config_from_hierarchical_args(args)
        if config is None:
            return args
        if args.reward.model_name_or_path and args.reward.model_name_or_path != POOL_SENTINEL:
            raise ValueError("pass the reward models through --reward_pool, not --reward.model_name_or_path, "
                             "when --reward_selector is on")
        preflight(config, args)
    except ValueError as err:
        _cli_error(err)
    args.reward.model_name_or_path = POOL_SENTINEL
    if args.algo.dynamic_filtering_enable:
        args.algo.dynamic_filtering_enable = False  # restored by get_strategy (see defer_dynamic_filtering)
        defer_dynamic_filtering(sys.modules.get("__main__"))
    activate(config)
    return args


def launcher_argv(config: Optional[LaserConfig], argv: list[str], args: Any = None) -> list[str]:
    """Launcher entry (after ``ppo.preflight.preflight(config)``): the checks against upstream's args
    (``args``: its parse of the whole line, ``ppo.cli.parse_upstream``), activation, and the argv
    for the upstream module."""
    from laser_plugin.adapters.openrlhf.ppo.preflight import check_upstream

    if config is None:
        return argv
    if any(a == "--reward.model_name_or_path" or a.startswith("--reward.model_name_or_path=") for a in argv):
        raise ValueError("pass the reward models through --reward_pool, not --reward.model_name_or_path, "
                         "when --reward_selector is on")
    if args is not None:
        check_upstream(config, args)
    if DYNAMIC_FILTERING_FLAG in argv:
        argv = [a for a in argv if a != DYNAMIC_FILTERING_FLAG]
        defer_dynamic_filtering()
    activate(config)
    return [*argv, "--reward.model_name_or_path", POOL_SENTINEL]
