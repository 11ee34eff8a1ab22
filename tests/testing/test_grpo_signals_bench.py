"""benchmarks/bench_grpo_signals.py refuses sizes it cannot report on, before any run starts (the runs
themselves are the slow GRPO test's and the benchmark's)."""
import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--steps", "2"]])
def test_sizes_without_thirds_or_seeds_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_benchmark("bench_grpo_signals").main(argv)
    assert exit_info.value.code == 2 and "need at least one seed and three steps" in capsys.readouterr().err
