"""Fixtures for the vLLM stand-in tests: engines on the tiny policy, a forced-stop model, a second policy."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture
def make_engine(tiny_policy: Path, cpu_compat) -> Callable[..., Any]:
    """Build stand-in engines from the real ``vllm.AsyncEngineArgs``; all are shut down afterwards."""
    from vllm import AsyncEngineArgs

    from laser_plugin.testing.vllm_standin.engine import StandInAsyncLLMEngine

    engines = []

    def build(model: Path | None = None, **kwargs: Any) -> StandInAsyncLLMEngine:
        kwargs.setdefault("dtype", "bfloat16")
        kwargs.setdefault("seed", 0)
        kwargs.setdefault("max_model_len", 64)
        kwargs.setdefault("worker_extension_cls", "openrlhf.trainer.ray.vllm_worker_wrap.WorkerWrap")
        engine = StandInAsyncLLMEngine.from_engine_args(AsyncEngineArgs(model=str(model or tiny_policy), **kwargs))
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.shutdown()


@pytest.fixture(scope="session")
def second_policy(tiny_dir: Path, tiny_tokenizer) -> Path:
    """Same architecture and tokenizer as tiny_policy, different random weights (a weight-sync source)."""
    from laser_plugin.testing.tiny_models import build_tiny_llama

    return build_tiny_llama(tiny_dir / "policy_b", tiny_tokenizer, seed=7)

