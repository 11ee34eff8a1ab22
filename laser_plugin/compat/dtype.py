"""CPU dtype policy: bf16 only where the CPU computes bf16 natively, fp32 everywhere else.

Why: bf16 matmuls are emulated on CPUs without AVX512-BF16 / AMX (x86-64) or the BF16 extension
(aarch64): measured 50x slower than fp32 on an AVX2-only AMD EPYC (Zen 3), while on a CPU with
AVX512-BF16 bf16 is 20-25% faster than fp32. The choice is made from the CPU's feature flags
(never from the vendor or model name), can be forced with ``LASER_CPU_DTYPE=bf16|fp32`` or an
explicit ``--ds.param_dtype``, and does nothing where CUDA exists (GPUs keep OpenRLHF's bf16).

It goes through OpenRLHF's own path: the choice is a ``--ds.param_dtype`` value. OpenRLHF 0.11.2
already builds a pure-fp32 DeepSpeed config for it (``bf16``/``fp16`` both disabled); only its
``convert_to_torch_dtype`` helper and its CLI ``choices`` lack "fp32", and :func:`patch_openrlhf_dtype`
/ :func:`widen_param_dtype_choices` add it.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import types
from functools import lru_cache
from typing import Iterable, Iterator, Optional

import torch

ENV = "LASER_CPU_DTYPE"
PARAM_DTYPES = ("bf16", "fp16", "fp32")
AUTO = "auto"
# /proc/cpuinfo flags that mean native bf16 arithmetic: x86-64 AVX512-BF16 / AMX-BF16, aarch64 BF16.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_ANNOUNCED: set[str] = set()


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """Feature flags of the first CPU ("flags" on x86-64, "Features" on aarch64); empty if unknown."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def has_native_bf16(flags: Optional[Iterable[str]] = None) -> bool:
    return bool(NATIVE_BF16_FLAGS & set(cpu_flags() if flags is None else flags))


def _check(value: str, source: str) -> str:
    if value not in PARAM_DTYPES:
        raise ValueError(f"{source} {value!r} is not one of {', '.join(PARAM_DTYPES)} (or '{AUTO}')")
    return value


def cpu_dtype_choice(flags: Optional[Iterable[str]] = None, env: Optional[dict] = None) -> tuple[str, str]:
    """(param_dtype, reason) for a CPU process: the ``LASER_CPU_DTYPE`` override, else the CPU flags."""
    forced = (os.environ if env is None else env).get(ENV, AUTO).strip().lower() or AUTO
    if forced != AUTO:
        return _check(forced, ENV), f"forced by {ENV}={forced}"
    if has_native_bf16(flags):
        return "bf16", "native bf16 on this CPU"
    return "fp32", "no native bf16 on this CPU"


@lru_cache(maxsize=1)
def _cuda() -> bool:
    return torch.cuda.is_available()


def resolve_param_dtype(requested: Optional[str] = None, *, announce: bool = True) -> str:
    """The ``--ds.param_dtype`` to run with: an explicit value wins; ``None``/"auto" means bf16 with
    CUDA (OpenRLHF's default) and the CPU policy without. Prints the automatic CPU choice once."""
    if requested not in (None, AUTO):
        return _check(str(requested), "--ds.param_dtype")
    if _cuda():
        return "bf16"
    dtype, reason = cpu_dtype_choice()
    if announce and dtype + reason not in _ANNOUNCED:
        _ANNOUNCED.add(dtype + reason)
        print(f"cpu dtype: {dtype} ({reason})", file=sys.stderr, flush=True)
    return dtype


def export_param_dtype(requested: Optional[str] = None) -> str:
    """Resolve the run's ``--ds.param_dtype`` and, on CPU, export it as ``LASER_CPU_DTYPE`` so every
    later model of the run (hf: arms, encoders, Ray workers, the vLLM stand-in) makes the same choice."""
    dtype = resolve_param_dtype(requested)
    if not _cuda():
        os.environ[ENV] = dtype
    return dtype


def torch_dtype(param_dtype: Optional[str] = None) -> torch.dtype:
    """torch dtype of a ``--ds.param_dtype`` value (resolved first: ``None``/"auto" -> the policy)."""
    return TORCH_DTYPES[resolve_param_dtype(param_dtype)]


def patch_openrlhf_dtype(utils_module: types.ModuleType) -> None:
    """Let OpenRLHF's ``convert_to_torch_dtype`` (its model loaders call it) accept "fp32" too."""
    original = utils_module.convert_to_torch_dtype
    if getattr(original, "_laser_fp32", False):
        return

    def convert_to_torch_dtype(param_dtype: str) -> torch.dtype:
        return torch.float32 if param_dtype == "fp32" else original(param_dtype)

    convert_to_torch_dtype._laser_fp32 = True  # type: ignore[attr-defined]
    utils_module.convert_to_torch_dtype = convert_to_torch_dtype


def widen_param_dtype_action(parser: argparse.ArgumentParser, default: Optional[str] = None) -> None:
    """The same widening for a parser already built (e.g. upstream's, captured once and reused)."""
    action = parser._option_string_actions.get("--ds.param_dtype")
    if action is None:
        return
    if action.choices is not None:
        action.choices = list(dict.fromkeys([*action.choices, *PARAM_DTYPES]))
    if default is not None:
        action.default = default


@contextlib.contextmanager
def widen_param_dtype_choices(default: Optional[str] = None) -> Iterator[None]:
    """While an upstream CLI builds its parser inline (``if __name__ == "__main__"``), add "fp32" to
    the choices of its ``--ds.param_dtype`` and, if given, make ``default`` its default. Only that
    one option is touched; the parser and its parsing stay upstream's."""
    original = argparse._ActionsContainer.add_argument

    def add_argument(self, *names, **kwargs):
        if "--ds.param_dtype" in names:
            if kwargs.get("choices") is not None:
                kwargs["choices"] = list(dict.fromkeys([*kwargs["choices"], *PARAM_DTYPES]))
            if default is not None:
                kwargs["default"] = default
        return original(self, *names, **kwargs)

    argparse._ActionsContainer.add_argument = add_argument
    try:
        yield
    finally:
        argparse._ActionsContainer.add_argument = original


def param_dtype_in_argv(argv: list[str]) -> Optional[str]:
    """The value of an explicit ``--ds.param_dtype`` in argv (last one wins, as argparse does)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--ds.param_dtype" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--ds.param_dtype="):
            found = arg.split("=", 1)[1]
    return found


__all__ = ["AUTO", "ENV", "PARAM_DTYPES", "cpu_dtype_choice", "cpu_flags", "export_param_dtype", "has_native_bf16",
           "param_dtype_in_argv", "patch_openrlhf_dtype", "resolve_param_dtype", "torch_dtype",
           "widen_param_dtype_action", "widen_param_dtype_choices"]
