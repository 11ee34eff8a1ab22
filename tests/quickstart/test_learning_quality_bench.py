"""benchmarks/bench_learning_quality.py end to end on tiny models (subprocess, as users run it): the
mechanics (runs per seed and selector, fixed:* expansion, shared round 0, bootstrap interval, targets,
report and plot), not the quality, which needs the real policy."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from laser_plugin.demo.arms import arm_path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_learning_quality.py"


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_learning_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_specs_expand_and_refuse_what_cannot_run():
    bench = _bench()
    arms = ["verifier", "length"]
    assert [s[0] for s in bench.parse_spec("fixed:*", arms, None)] == ["fixed:verifier", "fixed:length"]
    assert bench.parse_spec("laser:verifier", arms, None) == [("laser:verifier", "laser", {}, "verifier")]
    assert bench.parse_spec("random", arms, None)[0][0] == "random"
    with pytest.raises(ValueError, match="not an arm"):
        bench.parse_spec("fixed:sentiment", arms, None)
    with pytest.raises(ValueError, match="--router"):
        bench.parse_spec("bayesian_router:loss", arms, None)


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_data():
    from laser_plugin.eval.metrics import bootstrap_ci

    rng = np.random.default_rng(0)
    small = {s: {"a": rng.integers(0, 2, 8).tolist(), "b": rng.integers(0, 2, 8).tolist()} for s in range(2)}
    big = {s: {"a": rng.integers(0, 2, 200).tolist(), "b": rng.integers(0, 2, 200).tolist()} for s in range(6)}
    for values in (small, big):
        mean = np.mean([np.mean([x for s in values for x in values[s][d]]) for d in ("a", "b")])
        lo, hi = bootstrap_ci(values, n_boot=300)
        assert lo <= mean <= hi
    assert np.subtract(*bootstrap_ci(big, n_boot=300)[::-1]) < np.subtract(*bootstrap_ci(small, n_boot=300)[::-1])


@pytest.mark.slow
def test_tiny_run_writes_results_with_targets(tmp_path, tiny_policy):
    pool = ",".join(f"func:{arm_path(n)}@{n}" for n in ("verifier", "length", "noise"))
    out = tmp_path / "lq"
    cmd = [sys.executable, str(BENCH), "--model", str(tiny_policy), "--pool", pool, "--rounds", "2",
           "--prompts-per-round", "6", "--train-per-domain", "2", "--eval-per-domain", "2", "--seeds", "2",
           "--n-samples", "2", "--max-new-tokens", "6", "--selectors", "laser:verifier", "random", "fixed:*",
           "--workdir", str(tmp_path / "work"), "--output", str(out),
           "--extra", "--reward_selector.context_dim", "8", "--data.max_len", "64"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res["table"]) == {"laser:verifier", "random", "fixed:verifier", "fixed:length", "fixed:noise"}
    for row in res["table"].values():
        assert row["seeds"] == [0, 1] and row["ci95"][0] <= row["gold"]["all"] <= row["ci95"][1]
        assert row["decisions"] == 2 * 6  # one decision per prompt per round
    assert res["table"]["fixed:noise"]["misleading_share_last_third"] == pytest.approx(1.0)
    assert any("fixed oracle" in t[0] for t in res["targets"])
    assert out.with_suffix(".md").stat().st_size > 0 and out.with_suffix(".png").stat().st_size > 0
