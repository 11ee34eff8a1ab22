"""CPU shims for the CUDA calls OpenRLHF 0.11.2 hard-codes (see ../shared/notes/cpu-stack.md).

OpenRLHF calls ``torch.cuda.set_device/synchronize/empty_cache/current_device/current_stream`` and
``init_device_mesh("cuda", ...)`` unconditionally. On a CPU-only machine DeepSpeed already picks its
CPU accelerator and the gloo backend; these shims make the remaining CUDA calls harmless so the very
same upstream code path runs. Applied only by an explicit call and only where CUDA is absent.
OpenRLHF classes with CUDA-only code (``NaiveReplayBuffer``) are patched through :func:`when_imported`,
so openrlhf is never imported here.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import socket
import sys
import types
from typing import Any, Callable

import torch

from laser_plugin.compat.dtype import patch_openrlhf_dtype

_APPLIED = False

# Environment every CPU process of the stack wants: no network for wandb / the model hub.
CPU_PROCESS_ENV = {
    "WANDB_MODE": "disabled",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
# Ray workers also get one BLAS thread each: several share a 2-core machine. A single-process job
# (iterative DPO, best-of-N) keeps torch's default of one thread per core (torchrun sets 1 itself
# when it starts several ranks).
CPU_WORKER_ENV = {**CPU_PROCESS_ENV, "OMP_NUM_THREADS": "1"}


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


class _PostImportLoader(importlib.abc.Loader):
    """Delegates to the real loader, then runs the callbacks registered for the module."""

    def __init__(self, loader: Any, callbacks: list[Callable[[types.ModuleType], None]]) -> None:
        self._loader = loader
        self._callbacks = callbacks

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        for callback in self._callbacks:
            callback(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds a watched module with the other finders and wraps its loader (no import of its own)."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Callable[[types.ModuleType], None]]] = {}

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _PostImportLoader(spec.loader, self.pending.pop(fullname))
        return spec


_POST_IMPORT = _PostImportFinder()


def when_imported(module_name: str, callback: Callable[[types.ModuleType], None]) -> None:
    """Run ``callback(module)`` right after ``module_name`` executes, or now if it is already imported.

    Why: OpenRLHF classes must be patched in every process (Ray workers too) without importing
    openrlhf eagerly; the callback runs before any importer binds names from the module."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    _POST_IMPORT.pending.setdefault(module_name, []).append(callback)
    if _POST_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _POST_IMPORT)


def _cpu_replay_buffer(module: types.ModuleType) -> None:
    """``NaiveReplayBuffer.__init__`` builds ``torch.device(f"cuda:{current_device()}")``, i.e. the
    invalid "cuda:cpu" under these shims: build it with a placeholder index, then keep samples on cpu."""
    cls = module.NaiveReplayBuffer
    original = cls.__init__
    if getattr(original, "_laser_cpu", False):
        return

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        current_device = torch.cuda.current_device
        torch.cuda.current_device = lambda: 0  # only for the f-string in the constructor
        try:
            original(self, *args, **kwargs)
        finally:
            torch.cuda.current_device = current_device
        self.target_device = torch.device("cpu")

    __init__._laser_cpu = True  # type: ignore[attr-defined]
    cls.__init__ = __init__


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_all_cores(requested: int = 0) -> int:
    """Torch threads for a single-process CPU job: ``requested`` if > 0, else an explicit
    OMP_NUM_THREADS, else every core this process may run on. Why not torch's default: it counts
    physical cores, one on a 2-vCPU VM with two hyper-threads; why not the load average: right after
    an install it still reads busy and halved the threads of a quiet machine."""
    threads = requested if requested > 0 else int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or available_cores()
    torch.set_num_threads(threads)
    return threads


_AUTO_PORT_ENV = "LASER_AUTO_MASTER_PORT"


def set_single_rank_env() -> None:
    """Without RANK/WORLD_SIZE DeepSpeed falls back to MPI discovery; declare one local rank.

    MASTER_PORT: a port the user set is kept; one this module chose is chosen again on every call
    (and so in every child process that inherited it). Why: a port picked once per process is free
    only at that moment; minutes later another job's outgoing connection may hold it, and two
    concurrent runs that inherited the same port collide in torch.distributed's store."""
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    port = os.environ.get("MASTER_PORT")
    if port is None or port == os.environ.get(_AUTO_PORT_ENV):
        port = str(_free_port())
        os.environ["MASTER_PORT"] = os.environ[_AUTO_PORT_ENV] = port


SHM_COMM_OP = "deepspeed_shm_comm"


def _skip_shm_comm_op(module: types.ModuleType) -> None:
    """DeepSpeed builds its shared-memory all-reduce op in every CPU process it starts; the op serves only
    ``inference_all_reduce`` (DeepSpeed's tensor-parallel inference), which OpenRLHF's training never
    calls (its all-reduces go through torch.distributed, gloo on CPU). Marked incompatible, it is not
    built: one C++ compile less on a bare machine (scripts/setup_cpu_env.sh compiles only fused Adam)."""
    module.compatible_ops[SHM_COMM_OP] = False


def apply_cpu_compat(*, single_rank_env: bool = True, force: bool = False) -> bool:
    """Neutralise OpenRLHF's CUDA-only calls in this process. Returns True if shims were applied.

    ``single_rank_env`` also sets RANK/WORLD_SIZE/... defaults for a one-process DeepSpeed run
    (Ray workers get theirs from OpenRLHF and pass False). ``force`` applies the shims even when
    CUDA is available (tests only).
    """
    global _APPLIED
    if torch.cuda.is_available() and not force:
        return False
    for key, value in CPU_PROCESS_ENV.items():
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
    when_imported("deepspeed.git_version_info", _skip_shm_comm_op)
    when_imported("openrlhf.trainer.ppo_utils.replay_buffer", _cpu_replay_buffer)
    # --ds.param_dtype fp32 (the CPU dtype policy's choice without native bf16) through OpenRLHF's loaders.
    when_imported("openrlhf.utils.utils", patch_openrlhf_dtype)
    # --ds.packing_samples: flash_attention_N requests resolve to per-sequence SDPA (no flash-attn on CPU).
    from laser_plugin.compat.varlen_attention import install as install_varlen_attention

    when_imported("transformers.modeling_utils", lambda _module: install_varlen_attention())
    _APPLIED = True
    return True


def cpu_compat_applied() -> bool:
    return _APPLIED


def register_worker_setup(entry: str) -> None:
    """Add a ``module:function`` to ``LASER_WORKER_SETUP`` (once): ``ray_worker_setup`` runs it in every
    Ray worker whose runtime env passes that variable on."""
    setups = [e for e in os.environ.get("LASER_WORKER_SETUP", "").split(",") if e]
    os.environ["LASER_WORKER_SETUP"] = ",".join(dict.fromkeys([*setups, entry]))


def ray_worker_setup() -> None:
    """Ray ``worker_process_setup_hook``: Ray pickles classes by reference, so driver-side patches
    never reach workers; every worker applies the shims itself (ranks come from OpenRLHF)."""
    apply_cpu_compat(single_rank_env=False)
    # Per-worker setup registered by higher layers (the OpenRLHF adapter's hooks, the CPU rollout
    # stand-in of laser_plugin.testing), as "module:function" entries: compat stays unaware of them.
    for entry in filter(None, os.environ.get("LASER_WORKER_SETUP", "").split(",")):
        module_name, _, func = entry.partition(":")
        getattr(importlib.import_module(module_name), func)()
