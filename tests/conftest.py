"""Shared fixtures: tiny real models built in-process (no hub), a local Ray with logical GPUs.

Heavy imports (transformers, openrlhf, ray) happen inside fixtures so that tests of the pure core
never pay for them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch means no GPU tests either
        return False


def pytest_collection_modifyitems(config, items):
    # Files with slow tests first, in their usual order: under `-n 2 --dist loadfile` the fast files
    # then fill the gaps instead of one worker finishing a long Ray file while the other idles.
    slow_files = {item.nodeid.split("::")[0] for item in items if "slow" in item.keywords}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_files)
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def cpu_compat():
    """The CPU shims applied in the test process (no-op on a CUDA machine)."""
    from laser_plugin.compat import apply_cpu_compat

    apply_cpu_compat()
    return True


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dir):
    from laser_plugin.testing.tiny_models import build_tokenizer

    return build_tokenizer(tiny_dir / "tokenizer")


@pytest.fixture(scope="session")
def other_tokenizer(tiny_dir):
    """A tokenizer with different ids, for RMs that do not share the policy tokenizer."""
    from laser_plugin.testing.tiny_models import build_tokenizer

    return build_tokenizer(tiny_dir / "tokenizer_b", vocab_size=360, corpus_variant=1)


@pytest.fixture(scope="session")
def tiny_policy(tiny_dir, tiny_tokenizer) -> Path:
    """A tiny Llama causal LM checkpoint (hidden 64, 2 layers) with the tiny tokenizer."""
    from laser_plugin.testing.tiny_models import build_tiny_llama

    return build_tiny_llama(tiny_dir / "policy", tiny_tokenizer, seed=0)


@pytest.fixture(scope="session")
def tiny_reward_models(tiny_dir, tiny_tokenizer, other_tokenizer, tiny_policy, cpu_compat) -> list[Path]:
    """Three tiny OpenRLHF reward models: two on the policy tokenizer (one normalised through
    config mean/std), one on a different tokenizer and backbone."""
    from laser_plugin.testing.tiny_models import build_tiny_llama, build_tiny_reward_model

    rm_a = build_tiny_reward_model(tiny_dir / "rm_a", tiny_policy, tiny_tokenizer, seed=1)
    rm_b = build_tiny_reward_model(tiny_dir / "rm_b", tiny_policy, tiny_tokenizer, seed=2, mean=0.5, std=2.0)
    other_base = build_tiny_llama(tiny_dir / "other_base", other_tokenizer, seed=3)
    rm_c = build_tiny_reward_model(tiny_dir / "rm_c", other_base, other_tokenizer, seed=4)
    return [rm_a, rm_b, rm_c]


@pytest.fixture(scope="session")
def local_ray(cpu_compat):
    """A local Ray on 127.0.0.1 with 2 logical GPUs; every worker applies the CPU shims."""
    import ray

    from laser_plugin.compat import init_local_ray

    init_local_ray(num_cpus=4, num_gpus=2)
    yield ray
    ray.shutdown()
