"""Run OpenRLHF's own DeepSpeed / Ray code on a CPU-only machine (the CPU twin of the GPU path).

Nothing here runs at import: call :func:`apply_cpu_compat` explicitly (or let Ray workers call it
through :func:`cpu_ray_runtime_env`). Everything is a no-op where CUDA is available.
"""
from laser_plugin.compat.cpu import apply_cpu_compat, cpu_compat_applied, ray_worker_setup, use_all_cores
from laser_plugin.compat.dtype import resolve_param_dtype
from laser_plugin.compat.ray_local import cpu_ray_runtime_env, init_local_ray

__all__ = [
    "apply_cpu_compat",
    "cpu_compat_applied",
    "ray_worker_setup",
    "resolve_param_dtype",
    "use_all_cores",
    "cpu_ray_runtime_env",
    "init_local_ray",
]
