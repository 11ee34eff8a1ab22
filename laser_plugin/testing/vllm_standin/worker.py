"""The worker object that ``collective_rpc`` calls ``worker_extension_cls`` methods on.

vLLM mixes ``worker_extension_cls`` (OpenRLHF's ``WorkerWrap``) into its GPU worker class; the mixin
reads ``self.device``, ``self.model_config.dtype`` and ``self.model_runner.model.load_weights(...)``.
This module provides exactly that over an HF model, so OpenRLHF's own ``init_process_group`` /
``update_weight`` code runs unchanged. ``WorkerWrap.update_weight`` allocates its receive buffer with
``device="cuda"``; :class:`CudaToCpu` rewrites such device arguments to cpu while an RPC runs.
"""
from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any, Iterable

import torch
from torch.overrides import TorchFunctionMode


def _is_cuda(device: Any) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, str):
        return device.split(":")[0] == "cuda"
    return False


class CudaToCpu(TorchFunctionMode):
    """Redirect ``device="cuda"`` (factory functions, ``Tensor.to``) and ``Tensor.cuda()`` to cpu."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.Tensor.cuda:
            return args[0]
        if _is_cuda(kwargs.get("device")):
            kwargs["device"] = "cpu"
        args = tuple("cpu" if _is_cuda(a) else a for a in args)
        return func(*args, **kwargs)


class HFWeightLoader:
    """vLLM's ``model.load_weights(weights=[(name, tensor)])`` over an HF module: copy by name.

    The trainer broadcasts ``actor.model.module.named_parameters()`` of the same HF architecture, so
    names match one to one (vLLM's fused-QKV remapping is not needed here)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        targets = dict(self.model.named_parameters())
        targets.update(self.model.named_buffers())
        loaded = set()
        with torch.no_grad():
            for name, tensor in weights:
                if name not in targets:
                    raise KeyError(f"vllm stand-in: the engine model has no weight named {name!r}")
                target = targets[name]
                if tuple(target.shape) != tuple(tensor.shape):
                    raise ValueError(
                        f"vllm stand-in: shape mismatch for {name}: {tuple(tensor.shape)} vs {tuple(target.shape)}"
                    )
                target.copy_(tensor.to(device=target.device, dtype=target.dtype))
                loaded.add(name)
        return loaded


class _StandInWorkerBase:
    """The attributes vLLM's worker exposes to extension mixins."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype) -> None:
        self.device = torch.device("cpu")
        self.model_config = SimpleNamespace(dtype=dtype)
        self.model_runner = SimpleNamespace(model=HFWeightLoader(model))
        self.rank = 0
        self.local_rank = 0


def _resolve(qualname: str) -> type:
    module_name, _, attr = qualname.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def make_worker(model: torch.nn.Module, dtype: torch.dtype, extension_cls: str | type | None) -> Any:
    """A worker instance with ``extension_cls`` mixed in, as vLLM does for ``worker_extension_cls``."""
    bases: tuple[type, ...] = (_StandInWorkerBase,)
    if extension_cls:
        ext = _resolve(extension_cls) if isinstance(extension_cls, str) else extension_cls
        bases = (_StandInWorkerBase, ext)
    worker_cls = type("StandInWorker", bases, {})
    return worker_cls(model, dtype)


def call_worker(worker: Any, method: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
    """Run one RPC on the worker: ``method`` is a method name or ``callable(worker, *args)``."""
    with CudaToCpu():
        if callable(method):
            return method(worker, *args, **(kwargs or {}))
        return getattr(worker, method)(*args, **(kwargs or {}))
