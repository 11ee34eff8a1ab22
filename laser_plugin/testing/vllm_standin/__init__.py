"""A CPU stand-in for the vLLM engine, so OpenRLHF's real ``train_ppo_ray`` (PPO/GRPO) runs without a GPU.

What is mocked, and why only that
    Only what cannot exist on a CPU-only machine: vLLM's engine (``AsyncLLMEngine``, CUDA kernels) and
    its NCCL communicator (``PyNcclCommunicator``). Everything else is real: OpenRLHF's
    ``create_vllm_engines`` / ``RolloutRayActor`` / ``WorkerWrap`` / ``stateless_init_process_group``,
    and from vLLM ``AsyncEngineArgs``, ``SamplingParams``, ``TokensPrompt``, ``StatelessProcessGroup``,
    ``RequestOutput`` / ``CompletionOutput`` / ``Logprob``. The stand-in engine generates with HF
    ``generate`` (batched across concurrent requests), and weight sync runs over gloo
    (``--vllm.sync_backend gloo``).

The seam: two names on the real vllm package, in every process that installs the stand-in
    * ``vllm.AsyncLLMEngine`` -> :class:`StandInAsyncLLMEngine` (an attribute set on the real package,
      which shadows vllm's lazy ``__getattr__``; ``vllm.engine.async_llm_engine.AsyncLLMEngine`` and every
      other name stay real). ``RolloutRayActor.__init__`` reads ``vllm.AsyncLLMEngine`` at call time.
    * ``vllm.distributed.device_communicators.pynccl.PyNcclCommunicator`` -> :class:`GlooCommunicator`.
      OpenRLHF imports it inside ``stateless_init_process_group`` at call time, on the trainer side and
      inside the engine's ``WorkerWrap``.
    Why not only the ``vllm`` global of ``openrlhf.trainer.ray.vllm_engine``: Ray ships the methods of
    ``RolloutRayActor`` *by value* (``@ray.remote`` shadows the class name in its module, so cloudpickle
    cannot import it by reference) and their ``vllm`` global is re-bound to ``sys.modules["vllm"]`` in the
    worker; a per-module view is never seen there. Both swaps go through a post-import hook
    (``laser_plugin.compat.cpu.when_imported``), so nothing is imported eagerly. This is far smaller than
    replacing the ``vllm`` package, which would have to re-create all the real pieces listed above.

Reaching Ray workers
    A driver-side patch never reaches the process that builds the engine (the worker imports vllm
    afresh, whatever way Ray ships the actor class). ``laser_plugin.compat.cpu.ray_worker_setup`` (the runtime_env
    ``worker_process_setup_hook``) runs the ``LASER_WORKER_SETUP`` entries of the worker's environment,
    and :func:`cpu_rollout_session` adds :func:`install` to them (``WORKER_SETUP``). :func:`cpu_rollout_session` starts a local Ray with that hook, the env var and logical
    GPUs; ``python -m laser_plugin.launch --cpu-rollout openrlhf.cli.train_ppo_ray ...`` uses it.

CPU machines only: the engine always runs on cpu and gloo binds to 127.0.0.1 (single host).
"""
from __future__ import annotations

import contextlib
import os
import types
import warnings
from typing import Iterator

ENV_VAR = "LASER_VLLM_STANDIN"
# Run by laser_plugin.compat.cpu.ray_worker_setup in every Ray worker (LASER_WORKER_SETUP entry).
WORKER_SETUP = "laser_plugin.testing.vllm_standin:install"
_INSTALLED = False


def _patch_vllm(module: types.ModuleType) -> None:
    from laser_plugin.testing.vllm_standin.engine import StandInAsyncLLMEngine

    module.AsyncLLMEngine = StandInAsyncLLMEngine


def _patch_pynccl(module: types.ModuleType) -> None:
    from laser_plugin.testing.vllm_standin.comm import GlooCommunicator

    module.PyNcclCommunicator = GlooCommunicator


def install() -> None:
    """Route OpenRLHF's vLLM engine and NCCL weight sync to the CPU stand-ins in this process.

    Idempotent, imports nothing heavy; applies when (or if already) the target modules are imported."""
    global _INSTALLED
    if _INSTALLED:
        return
    from laser_plugin.compat.cpu import when_imported

    when_imported("vllm", _patch_vllm)
    when_imported("vllm.distributed.device_communicators.pynccl", _patch_pynccl)
    _INSTALLED = True


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@contextlib.contextmanager
def cpu_rollout_session(num_cpus: int | None = None, num_gpus: int | None = None) -> Iterator[None]:
    """Install the stand-in here and start a local Ray (127.0.0.1, logical GPUs) whose workers install
    it too; shuts that Ray down on exit. ``train_ppo_ray`` then finds Ray initialised and skips its own
    ``ray.init``. Logical resources default to 8 CPUs / 4 GPUs (env ``LASER_CPU_RAY_CPUS`` /
    ``LASER_CPU_RAY_GPUS``): enough for colocated GRPO and for async mode (engines in their own group)."""
    import ray

    from laser_plugin.compat.cpu import register_worker_setup
    from laser_plugin.compat.ray_local import cpu_ray_runtime_env, init_local_ray

    os.environ[ENV_VAR] = "1"
    register_worker_setup(WORKER_SETUP)
    install()
    started = not ray.is_initialized()
    if not started:
        warnings.warn(
            f"Ray is already initialised: its workers install the vLLM stand-in only if their runtime_env uses "
            f"laser_plugin.compat.cpu.ray_worker_setup and its LASER_WORKER_SETUP names {WORKER_SETUP}",
            stacklevel=2,
        )
    else:
        init_local_ray(
            num_cpus=num_cpus or _int_env("LASER_CPU_RAY_CPUS", 8),
            num_gpus=num_gpus or _int_env("LASER_CPU_RAY_GPUS", 4),
            runtime_env=cpu_ray_runtime_env({ENV_VAR: "1"}),
            log_to_driver=True,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()


__all__ = ["ENV_VAR", "WORKER_SETUP", "install", "cpu_rollout_session"]
