"""A local Ray bound to 127.0.0.1 with logical GPUs, for running OpenRLHF's Ray actors on CPU."""
from __future__ import annotations

import os
from typing import Any

from laser_plugin.compat.cpu import CPU_WORKER_ENV

# Ray 2.55 rewrites a loopback node address to the routable one unless this is 0 (cpu-stack notes).
_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


# ray.init tries on a busy machine (Ray gives its raylet a fixed 30 s to register)
STARTUP_ATTEMPTS = 3

# Set by laser_plugin in the driver and needed by every worker: passed through when present.
PASS_THROUGH_ENV = ("LASER_PLUGIN_CONFIG", "LASER_WORKER_SETUP", "LASER_VLLM_STANDIN", "LASER_CPU_DTYPE")


def cpu_ray_runtime_env(extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """runtime_env whose setup hook applies the CPU shims in every Ray worker process."""
    passed = {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}
    env_vars = {**CPU_WORKER_ENV, **_LOOPBACK_ENV, **passed, **(extra_env or {})}
    return {
        "worker_process_setup_hook": "laser_plugin.compat.cpu.ray_worker_setup",
        "env_vars": env_vars,
    }


def init_local_ray(num_cpus: int = 4, num_gpus: int = 2, **kwargs: Any):
    """Start a local Ray with ``num_gpus`` *logical* GPUs so OpenRLHF's ``num_gpus=1`` actors can be
    scheduled on a CPU-only machine (or keep the one this process already joined). Returns ray's context.

    Always a new instance (``address="local"``): a bare ``ray.init()`` joins the newest cluster that
    ``ray start`` recorded on this host (/tmp/ray/ray_current_cluster), e.g. another job's or another
    test's, and then fails because ``num_cpus``/``num_gpus`` may not be given when joining."""
    import ray

    if ray.is_initialized():
        return ray.get_runtime_context()
    for key, value in _LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    options = dict(address=kwargs.pop("address", "local"), num_cpus=num_cpus, num_gpus=num_gpus,
                   _node_ip_address="127.0.0.1", include_dashboard=False,
                   runtime_env=kwargs.pop("runtime_env", cpu_ray_runtime_env()),
                   log_to_driver=kwargs.pop("log_to_driver", False), **kwargs)
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            return ray.init(**options)
        except Exception as err:
            # Ray waits a fixed 30 s for its raylet to register; on 2 busy cores (another Ray job or
            # test worker starting its actors) that can run out. A fresh start then usually succeeds.
            if "timed out during startup" not in str(err) or attempt == STARTUP_ATTEMPTS:
                raise
            ray.shutdown()
            print(f"[laser_plugin] local Ray timed out starting (attempt {attempt}/{STARTUP_ATTEMPTS}, busy CPU); "
                  "starting it again", flush=True)
