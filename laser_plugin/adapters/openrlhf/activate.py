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

import os
import sys
from typing import Any, Optional

from laser_plugin.config import POOL_SENTINEL, LaserConfig

# Registered for Ray workers through LASER_WORKER_SETUP (run by compat's worker setup hook).
WORKER_SETUP = "laser_plugin.adapters.openrlhf.activate:install_hooks"
# train_ppo_ray's own ray.init env defaults, kept when we start Ray first.
_UPSTREAM_RAY_ENV = {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": "1"}


def install_hooks() -> None:
    """Per process: swap the experience maker and wrap the trainer when OpenRLHF's PPO trainer loads."""
    from laser_plugin.adapters.openrlhf import ppo_trainer_hooks
    from laser_plugin.compat.cpu import when_imported

    when_imported("openrlhf.trainer.ppo_trainer", ppo_trainer_hooks.install)


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

    apply_cpu_compat()
    config.export()
    setups = [e for e in os.environ.get("LASER_WORKER_SETUP", "").split(",") if e]
    os.environ["LASER_WORKER_SETUP"] = ",".join(dict.fromkeys([*setups, WORKER_SETUP]))
    import openrlhf.trainer.ray.launcher as launcher

    from laser_plugin.adapters.openrlhf.reward_shard import LaserRewardShard

    # train_ppo_ray does `from openrlhf.trainer.ray.launcher import RewardModelActor`: rebind the
    # module attribute (launcher: before the CLI module runs) and the already-imported name (patch:
    # activation runs inside the CLI's __main__).
    launcher.RewardModelActor = LaserRewardShard
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "RewardModelActor", None) is not None:
        main.RewardModelActor = LaserRewardShard
    install_hooks()
    init_ray()


def check_upstream_args(args: Any) -> None:
    """Upstream options that cannot work with a pool, reported before anything starts."""
    if getattr(args.reward, "remote_url", None) or getattr(args.train, "agent_func_path", None):
        raise ValueError(
            "--reward_selector replaces OpenRLHF's reward model: drop --reward.remote_url / "
            "--train.agent_func_path and list those scorers in --reward_pool (http://... or func:FILE.py)"
        )
    if args.algo.advantage.estimator == "gae" and not args.critic.model_name_or_path:
        raise ValueError("PPO with GAE needs --critic.model_name_or_path when --reward_selector is on "
                         "(upstream would initialise the critic from the single RM, which the pool replaces)")
    if getattr(args.train, "dynamic_batch_enable", False):
        raise ValueError("--train.dynamic_batch_enable regroups samples across prompts; the pool needs whole "
                         "prompt groups per micro-batch: drop it when --reward_selector is on")


def activate_from_args(args: Any) -> Any:
    """Patched-CLI entry: no-op (upstream behaviour) without --reward_selector."""
    from laser_plugin.adapters.openrlhf.flags import config_from_hierarchical_args

    config = config_from_hierarchical_args(args)
    if config is None:
        return args
    if args.reward.model_name_or_path and args.reward.model_name_or_path != POOL_SENTINEL:
        raise ValueError("pass the reward models through --reward_pool, not --reward.model_name_or_path, "
                         "when --reward_selector is on")
    args.reward.model_name_or_path = POOL_SENTINEL
    check_upstream_args(args)
    activate(config)
    return args


def launcher_argv(config: Optional[LaserConfig], argv: list[str]) -> list[str]:
    """Launcher entry: activate and return the argv for the upstream module."""
    if config is None:
        return argv
    if any(a == "--reward.model_name_or_path" or a.startswith("--reward.model_name_or_path=") for a in argv):
        raise ValueError("pass the reward models through --reward_pool, not --reward.model_name_or_path, "
                         "when --reward_selector is on")
    if "--reward.remote_url" in argv or "--train.agent_func_path" in argv:
        raise ValueError("--reward_selector replaces OpenRLHF's reward model: drop --reward.remote_url / "
                         "--train.agent_func_path and list those scorers in --reward_pool")
    activate(config)
    return [*argv, "--reward.model_name_or_path", POOL_SENTINEL]
