"""CPU shims for the CUDA calls OpenRLHF 0.11.2 hard-codes (see ../shared/notes/cpu-stack.md).

OpenRLHF calls ``torch.cuda.set_device/synchronize/empty_cache/current_device/current_stream`` and
``init_device_mesh("cuda", ...)`` unconditionally. On a CPU-only machine DeepSpeed already picks its
CPU accelerator and the gloo backend; these shims make the remaining CUDA calls harmless so the very
same upstream code path runs. Applied only by an explicit call and only where CUDA is absent.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import sys
import types

import torch

_APPLIED = False

# Environment every CPU process of the stack wants: single-threaded BLAS per worker on a 2-core
# machine, no network for wandb / the model hub.
CPU_WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "WANDB_MODE": "disabled",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _noop():
    # A fresh function per patched name: torch._dynamo keys its trace rules by function object and
    # refuses one object registered under several torch.cuda names.
    def noop(*_args, **_kwargs) -> None:
        return None

    return noop


def _cpu_device_mesh(init_device_mesh):
    """Wrap ``init_device_mesh`` so a hard-coded "cuda" mesh becomes a CPU (gloo) mesh."""
    if getattr(init_device_mesh, "_laser_cpu", False):
        return init_device_mesh

    def wrapped(device_type, *args, **kwargs):
        return init_device_mesh("cpu" if device_type == "cuda" else device_type, *args, **kwargs)

    wrapped._laser_cpu = True  # type: ignore[attr-defined]
    return wrapped


def _install_flash_attn_extension_stub() -> None:
    """flash_attn/__init__ imports its CUDA extension; on CPU only bert_padding's torch code is used."""
    if "flash_attn_2_cuda" in sys.modules or importlib.util.find_spec("flash_attn_2_cuda") is not None:
        return
    sys.modules["flash_attn_2_cuda"] = types.ModuleType("flash_attn_2_cuda")


def set_single_rank_env() -> None:
    """Without RANK/WORLD_SIZE DeepSpeed falls back to MPI discovery; declare one local rank."""
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(_free_port()))


def apply_cpu_compat(*, single_rank_env: bool = True, force: bool = False) -> bool:
    """Neutralise OpenRLHF's CUDA-only calls in this process. Returns True if shims were applied.

    ``single_rank_env`` also sets RANK/WORLD_SIZE/... defaults for a one-process DeepSpeed run
    (Ray workers get theirs from OpenRLHF and pass False). ``force`` applies the shims even when
    CUDA is available (tests only).
    """
    global _APPLIED
    if torch.cuda.is_available() and not force:
        return False
    for key, value in CPU_WORKER_ENV.items():
        os.environ.setdefault(key, value)
    if single_rank_env:
        set_single_rank_env()
    if _APPLIED:
        return True

    torch.cuda.set_device = _noop()
    torch.cuda.synchronize = _noop()
    torch.cuda.empty_cache = _noop()
    torch.cuda.current_device = lambda: "cpu"
    torch.cuda.current_stream = lambda *a, **k: None

    import torch.distributed.device_mesh as device_mesh

    device_mesh.init_device_mesh = _cpu_device_mesh(device_mesh.init_device_mesh)
    # openrlhf binds the name at import time; rebind it there too if it is already loaded.
    ds_module = sys.modules.get("openrlhf.utils.deepspeed.deepspeed")
    if ds_module is not None:
        ds_module.init_device_mesh = _cpu_device_mesh(ds_module.init_device_mesh)

    _install_flash_attn_extension_stub()
    _APPLIED = True
    return True


def cpu_compat_applied() -> bool:
    return _APPLIED


def ray_worker_setup() -> None:
    """Ray ``worker_process_setup_hook``: Ray pickles classes by reference, so driver-side patches
    never reach workers; every worker applies the shims itself (ranks come from OpenRLHF)."""
    apply_cpu_compat(single_rank_env=False)
