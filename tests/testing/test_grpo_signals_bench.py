"""benchmarks/bench_grpo_signals.py refuses sizes it cannot report on, before any run starts (the runs
themselves are the slow GRPO test's and the benchmark's)."""
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_grpo_signals.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_grpo_signals", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--steps", "2"]])
def test_sizes_without_thirds_or_seeds_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _bench().main(argv)
    assert exit_info.value.code == 2 and "need at least one seed and three steps" in capsys.readouterr().err
