"""The CPU dtype policy: bf16 only with native bf16 instructions, fp32 elsewhere, overridable, through
OpenRLHF's own --ds.param_dtype path. CPU feature sets are injected; nothing about this machine's CPU
is assumed."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from laser_plugin.compat import dtype as cpu_dtype

ZEN3 = {"fpu", "sse2", "avx", "avx2", "fma", "avx512f"}  # AVX2/FMA (even AVX512F) without BF16


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (ZEN3, "fp32"),
        (ZEN3 | {"avx512_bf16"}, "bf16"),  # Zen 4, Cooper Lake
        (ZEN3 | {"amx_bf16", "amx_tile"}, "bf16"),  # Sapphire Rapids
        ({"fp", "asimd", "bf16"}, "bf16"),  # aarch64 with the BF16 extension
        ({"fp", "asimd"}, "fp32"),
        (set(), "fp32"),  # unknown CPU: the safe choice
    ],
)
def test_policy_per_cpu_feature_set(flags, expected):
    dtype, reason = cpu_dtype.cpu_dtype_choice(flags, env={})
    assert dtype == expected
    assert reason == ("native bf16 on this CPU" if expected == "bf16" else "no native bf16 on this CPU")


def test_env_override_wins_and_bad_values_name_the_variable():
    assert cpu_dtype.cpu_dtype_choice(ZEN3, env={"LASER_CPU_DTYPE": "bf16"}) == (
        "bf16", "forced by LASER_CPU_DTYPE=bf16")
    assert cpu_dtype.cpu_dtype_choice(ZEN3 | {"avx512_bf16"}, env={"LASER_CPU_DTYPE": "FP32"})[0] == "fp32"
    assert cpu_dtype.cpu_dtype_choice(ZEN3, env={"LASER_CPU_DTYPE": "auto"})[0] == "fp32"
    with pytest.raises(ValueError, match="LASER_CPU_DTYPE 'fp8' is not one of bf16, fp16, fp32"):
        cpu_dtype.cpu_dtype_choice(ZEN3, env={"LASER_CPU_DTYPE": "fp8"})


def test_cpu_flags_reads_x86_and_aarch64_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\nCPU implementer\t: 0x41\n")
    assert cpu_dtype.cpu_flags(str(x86)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_dtype.cpu_flags(str(arm)) == {"fp", "asimd", "bf16"}
    assert cpu_dtype.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_explicit_value_wins_and_the_automatic_choice_is_printed_once(monkeypatch, capsys):
    monkeypatch.setattr(cpu_dtype, "_cuda", lambda: False)
    monkeypatch.setattr(cpu_dtype, "_ANNOUNCED", set())
    monkeypatch.setenv("LASER_CPU_DTYPE", "auto")
    monkeypatch.setattr(cpu_dtype, "cpu_flags", lambda: frozenset(ZEN3))
    assert cpu_dtype.resolve_param_dtype("bf16") == "bf16"  # an explicit flag is never second-guessed
    assert cpu_dtype.resolve_param_dtype(None) == "fp32"
    assert cpu_dtype.resolve_param_dtype("auto") == "fp32"
    assert capsys.readouterr().err.count("cpu dtype: fp32 (no native bf16 on this CPU)") == 1
    with pytest.raises(ValueError, match="--ds.param_dtype 'float8'"):
        cpu_dtype.resolve_param_dtype("float8")


def test_gpu_keeps_openrlhf_bf16(monkeypatch):
    monkeypatch.setattr(cpu_dtype, "_cuda", lambda: True)
    monkeypatch.setenv("LASER_CPU_DTYPE", "fp32")  # a CPU override has no say on a GPU machine
    assert cpu_dtype.resolve_param_dtype(None) == "bf16"


def test_openrlhf_loader_helper_accepts_fp32(cpu_compat):
    from openrlhf.utils import utils

    assert utils.convert_to_torch_dtype("fp32") is torch.float32
    assert utils.convert_to_torch_dtype("bf16") is torch.bfloat16  # upstream's own values unchanged
    with pytest.raises(ValueError):
        utils.convert_to_torch_dtype("fp8")


def test_widened_upstream_option_takes_fp32_and_the_policy_default():
    def upstream_parser() -> argparse.ArgumentParser:  # the shape of train_dpo's / train_ppo_ray's option
        p = argparse.ArgumentParser()
        p.add_argument("--ds.param_dtype", type=str, default="bf16", choices=["bf16", "fp16"])
        return p

    with cpu_dtype.widen_param_dtype_choices(default="fp32"):
        p = upstream_parser()
    assert vars(p.parse_args([]))["ds.param_dtype"] == "fp32"
    assert vars(p.parse_args(["--ds.param_dtype", "bf16"]))["ds.param_dtype"] == "bf16"
    with pytest.raises(SystemExit):
        upstream_parser().parse_args(["--ds.param_dtype", "fp32"])  # outside the context: upstream's parser
    assert cpu_dtype.param_dtype_in_argv(["--x", "1", "--ds.param_dtype", "fp16"]) == "fp16"
    assert cpu_dtype.param_dtype_in_argv(["--ds.param_dtype=bf16"]) == "bf16"
    assert cpu_dtype.param_dtype_in_argv(["--x"]) is None


def test_iterative_dpo_flag_accepts_fp32_and_resolves_auto(monkeypatch):
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser, hierarchical_light

    monkeypatch.setenv("LASER_CPU_DTYPE", "fp32")
    parser = build_parser()
    ns = parser.parse_args(["--model.model_name_or_path", "m"])
    assert hierarchical_light(ns).ds.param_dtype == ("bf16" if torch.cuda.is_available() else "fp32")
    ns = parser.parse_args(["--model.model_name_or_path", "m", "--ds.param_dtype", "bf16"])
    assert hierarchical_light(ns).ds.param_dtype == "bf16"
    with pytest.raises(SystemExit):
        parser.parse_args(["--ds.param_dtype", "fp8"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="the launcher widens the flag only on CPU")
def test_launcher_gives_upstream_train_dpo_the_fp32_choice_and_policy_default():
    env = {**os.environ, "LASER_CPU_DTYPE": "fp32"}
    out = subprocess.run([sys.executable, "-m", "laser_plugin.launch", "openrlhf.cli.train_dpo", "--help"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = " ".join(out.stdout.split())
    assert "--ds.param_dtype {bf16,fp16,fp32}" in text
    assert "cpu dtype: fp32 (forced by LASER_CPU_DTYPE=fp32)" in out.stderr


def test_hf_arm_scores_agree_in_fp32_and_bf16(tiny_reward_models, tiny_tokenizer, cpu_compat):
    from laser_plugin.pool import RewardPool
    from tests.pool.conftest import make_batch

    rm = tiny_reward_models[0]
    spec = json.dumps([{"spec": f"hf:{rm}@fp32", "param_dtype": "fp32"}, {"spec": f"hf:{rm}@bf16", "param_dtype": "bf16"}])
    path = tiny_reward_models[0].parent / "dtype_arms.json"
    path.write_text(spec)
    pool = RewardPool(str(path), residency=2, policy_tokenizer=tiny_tokenizer, normalize="none")
    batch = make_batch(6)
    _, fp32 = pool.score(batch, np.zeros(6, dtype=int))
    _, bf16 = pool.score(batch, np.ones(6, dtype=int))
    assert pool.arms[0].model.dtype == torch.float32 and pool.arms[1].model.dtype == torch.bfloat16
    assert np.all(np.isfinite(fp32)) and np.std(fp32) > 0
    # bf16 keeps 8 mantissa bits: the scores agree to ~1% of their spread, and in order.
    np.testing.assert_allclose(bf16, fp32, atol=0.05 * (np.ptp(fp32) + 1e-6) + 0.02)
    assert list(np.argsort(fp32)) == list(np.argsort(bf16)) or np.corrcoef(fp32, bf16)[0, 1] > 0.99
