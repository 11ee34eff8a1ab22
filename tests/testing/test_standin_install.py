"""The stand-in reaches a fresh process exactly as a Ray worker gets it: the setup hook runs the
LASER_WORKER_SETUP entries of its environment, where cpu_rollout_session names the stand-in.

Each check runs in its own interpreter because install() is process-global by design.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

WORKER_WITH_STANDIN = textwrap.dedent(
    """
    import os, sys
    from laser_plugin.testing.vllm_standin import WORKER_SETUP
    os.environ["LASER_WORKER_SETUP"] = WORKER_SETUP      # what cpu_rollout_session gives every worker
    from laser_plugin.compat.cpu import ray_worker_setup
    ray_worker_setup()                                   # what Ray runs first in every worker
    assert "vllm" not in sys.modules and "openrlhf" not in sys.modules, "the hook must not import them"

    import openrlhf.trainer.ray.vllm_engine as vllm_engine
    from laser_plugin.testing.vllm_standin.comm import GlooCommunicator
    from laser_plugin.testing.vllm_standin.engine import StandInAsyncLLMEngine
    from vllm.engine.arg_utils import AsyncEngineArgs
    assert vllm_engine.vllm.AsyncLLMEngine is StandInAsyncLLMEngine
    assert vllm_engine.vllm.AsyncEngineArgs is AsyncEngineArgs      # the rest of vllm stays real
    import vllm.engine.arg_utils
    assert not hasattr(vllm.engine, "async_llm_engine")  # real engine never imported (it needs GPU-only deps)
    from vllm.distributed.device_communicators.pynccl import PyNcclCommunicator
    assert PyNcclCommunicator is GlooCommunicator

    from openrlhf.trainer.ppo_utils import NaiveReplayBuffer        # CPU patch from apply_cpu_compat
    assert NaiveReplayBuffer(2).target_device.type == "cpu"
    print("STANDIN-OK")
    """
)

WORKER_WITHOUT_STANDIN = textwrap.dedent(
    """
    import os
    os.environ.pop("LASER_WORKER_SETUP", None)
    from laser_plugin.compat.cpu import ray_worker_setup
    ray_worker_setup()
    import vllm
    assert "AsyncLLMEngine" not in vars(vllm), "no stand-in unless asked for"
    print("PLAIN-OK")
    """
)


def _run(code: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_setup_hook_installs_standin_when_env_var_set():
    assert "STANDIN-OK" in _run(WORKER_WITH_STANDIN)


def test_setup_hook_leaves_vllm_alone_by_default():
    assert "PLAIN-OK" in _run(WORKER_WITHOUT_STANDIN)
