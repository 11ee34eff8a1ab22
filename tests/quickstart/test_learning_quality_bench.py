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
from laser_plugin.demo.data import gold_rows
from tests.benchmark_scripts import load_benchmark

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_learning_quality.py"


def _bench():
    return load_benchmark("bench_learning_quality")


def test_specs_expand_and_refuse_what_cannot_run():
    bench = _bench()
    arms = ["verifier", "length"]
    assert [s[0] for s in bench.parse_spec("fixed:*", arms, None)] == ["fixed:verifier", "fixed:length"]
    assert bench.parse_spec("laser:verifier", arms, None) == [("laser:verifier", "laser", {}, "verifier")]
    assert bench.parse_spec("random", arms, None)[0][0] == "random"
    assert bench.parse_spec("laser:audit@batch", arms, None) == [("laser:audit@batch", "laser", {"granularity": "batch"}, "audit")]
    assert bench.parse_spec("fixed:trusted", arms, None, ("length",)) == [("fixed:verifier", "fixed", {"arm": 0}, "loss")]
    assert bench.parse_spec("laser:verifier@batch,explore_by=training,alpha=1", arms, None) == [
        ("laser:verifier@batch,explore_by=training,alpha=1", "laser",
         {"granularity": "batch", "explore_by": "training", "alpha": "1"}, "verifier")]
    assert bench.parse_spec("fixed:best", arms, None) == [("fixed:best", "fixed", {"arm": "best"}, "loss")]
    assert bench.parse_spec("laser:audit,audit_share=0.25", arms, None) == [
        ("laser:audit,audit_share=0.25", "laser", {"audit_share": 0.25}, "audit")]
    for bad in ("laser:audit,audit_share=0", "laser:audit,audit_share=lots"):
        with pytest.raises(ValueError, match="audit_share must be a number in"):
            bench.parse_spec(bad, arms, None)
    with pytest.raises(ValueError, match="OPTION=VALUE"):
        bench.parse_spec("laser:verifier,train", arms, None)
    with pytest.raises(ValueError, match="granularity"):
        bench.parse_spec("laser:audit@row", arms, None)
    with pytest.raises(ValueError, match="not an arm"):
        bench.parse_spec("fixed:sentiment", arms, None)
    with pytest.raises(ValueError, match="--router"):
        bench.parse_spec("bayesian_router:loss", arms, None)


def test_bayesian_router_on_own_data_without_a_router_file_is_refused_before_anything_loads(tmp_path, capsys):
    bench = _bench()
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "1+1?", "answer": "2", "domain": "math"}\n')
    for extra, match in ((["bayesian_router:verifier"], "bayesian_router needs --router FILE with --train"),
                         (["bayesian_router:verifier", "--router", "auto"],
                          "--router auto builds router prompts of the demo domains"),
                         (["fixed:best", "random"], "fixed:best is chosen on the round-0 samples"),
                         (["laser:audit,audit_share=2"], "audit_share must be a number in (0, 1]"),
                         (["laser:audit@row"], "granularity"),
                         (["laser:verifier,explore_by=sometimes"], "explore_by must be one of")):
        with pytest.raises(SystemExit) as exit_info:
            bench.main(["--train", str(data), "--eval", str(data), "--selectors", *extra])
        assert exit_info.value.code == 2 and match in capsys.readouterr().err


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


def _router_files(tmp_path, arms, dim, seeds):
    """Router files as `laser-plugin train-router --seed S` writes them (one per seed: the hashing
    encoder is seeded), with made-up arm strengths: the bench's wiring is under test, not the router."""
    from laser_plugin.router.encoders import EncoderSpec
    from laser_plugin.router.model import TrainedRouter
    from laser_plugin.router.prior import save_router

    w = np.linspace(0.0, 1.0, len(arms) * dim).reshape(len(arms), dim)
    for seed in seeds:
        router = TrainedRouter(projection=np.eye(dim), arm_vectors=w, weights=w, calibration=np.array([1.0, 0.0]),
                               train_pairs=1, final_loss=0.0)
        save_router(tmp_path / f"router{seed}.safetensors", router, arms, EncoderSpec("hashing", "hashing", dim, seed))
    return str(tmp_path / "router{seed}.safetensors")


def test_router_prompts_share_the_domains_but_no_prompt_with_train_or_eval():
    from laser_plugin.demo.data import DataConfig, build, router_rows

    preset = _bench().PRESETS["default"]  # --router auto asks eval_per_domain router prompts per domain
    n = preset["eval_per_domain"]
    train, evals = build(DataConfig(train_per_domain=preset["train_per_domain"], eval_per_domain=n))
    seen = {r["prompt"] for r in train + evals}
    rows = router_rows(n, 1000, exclude=seen)
    assert [r["domain"] for r in rows] == ["math"] * n + ["yes_no"] * n + ["writing"] * n
    assert not seen & {r["prompt"] for r in rows} and len({r["prompt"] for r in rows}) == 3 * n
    assert router_rows(n, 1000, exclude=seen) == rows  # seeded
    with pytest.raises(ValueError, match="router prompts for writing"):
        router_rows(25, 1000, exclude=seen)  # 24 router topics


@pytest.mark.slow
def test_tiny_run_writes_results_with_targets(tmp_path, tiny_policy):
    arms = ("verifier", "length", "noise")
    pool = ",".join(f"func:{arm_path(n)}@{n}" for n in arms)
    out = tmp_path / "lq"
    cmd = [sys.executable, str(BENCH), "--model", str(tiny_policy), "--pool", pool, "--rounds", "2",
           "--prompts-per-round", "6", "--train-per-domain", "2", "--eval-per-domain", "2", "--seeds", "2",
           "--n-samples", "2", "--max-new-tokens", "6", "--selectors", "laser:verifier", "laser:verifier,explore_by=training", "random", "fixed:*", "fixed:best",
           "bayesian_router:verifier", "laser:verifier@batch", "--router", _router_files(tmp_path, list(arms), 8, (0, 1)),
           "--workdir", str(tmp_path / "work"), "--output", str(out),
           "--extra", "--reward_selector.context_dim", "8", "--data.max_len", "64"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res["table"]) == {"laser:verifier", "laser:verifier,explore_by=training", "random", "fixed:verifier",
                                 "fixed:length", "fixed:noise", "fixed:best", "bayesian_router:verifier",
                                 "laser:verifier@batch"}
    # fixed:best is one of the pool's arms per seed, chosen on round-0 training samples
    assert set(res["table"]["fixed:best"]["fixed_arms"]) <= set(arms)
    # LASeR's exploration trains on its picks, never scores for feedback only
    assert res["table"]["laser:verifier,explore_by=training"]["explored"] == 0
    assert all(row["pairs"] >= 0 and row["explored"] >= 0 for row in res["table"].values())
    for label, row in res["table"].items():
        assert row["seeds"] == [0, 1] and row["ci95"][0] <= row["gold"]["all"] <= row["ci95"][1]
        # one decision per prompt per round; @batch: one per pool call of the quickstart's 3 prompts
        assert row["decisions"] == (2 * 6 / 3 if label.endswith("@batch") else 2 * 6), label
    assert res["table"]["fixed:noise"]["misleading_share_last_third"] == pytest.approx(1.0)
    assert any("fixed oracle" in t[0] for t in res["targets"])
    assert res["start_eval_rows"] and res["start_eval"]["all"] == pytest.approx(
        gold_rows(res["start_eval_rows"])["all"])
    assert out.with_suffix(".md").stat().st_size > 0 and out.with_suffix(".png").stat().st_size > 0


def test_best_arm_target_uses_only_rows_that_trained_one_arm():
    """fixed:best may choose a different arm per seed; a domain's best arm then comes from the rows
    that trained one arm throughout, and without any the target is reported as not measured."""
    bench = _bench()

    def row(gold, share=None, arms=None):
        r = {"gold": gold, "share_last_third": share or {}, "misleading_share_last_third": 0.0}
        if arms is not None:
            r["fixed_arms"] = arms
        return r

    def best_arm_target(table):
        (_, measured, met), = [t for t in bench.targets(table, "laser:verifier", ["math", "writing"]) if "most-picked" in t[0]]
        return measured, met

    laser = row({"all": 0.6}, {"math": {"verifier": 0.9, "length": 0.1}, "writing": {"verifier": 0.7, "sentiment": 0.3}})
    mixed = row({"all": 0.6, "math": 0.9, "writing": 0.9}, arms=["similarity", "verifier"])
    table = {"laser:verifier": laser, "fixed:best": mixed}
    measured, met = best_arm_target(table)
    assert met is None and "not measured" in measured
    table["fixed:verifier"] = row({"all": 0.5, "math": 0.8, "writing": 0.4})
    table["fixed:sentiment"] = row({"all": 0.5, "math": 0.2, "writing": 0.7})
    measured, met = best_arm_target(table)
    assert measured.startswith("1/2") and met is False  # math: verifier (hit); writing: sentiment (missed)
    laser["share_last_third"]["writing"] = {"verifier": 0.2, "sentiment": 0.8}
    measured, met = best_arm_target(table)
    assert measured.startswith("2/2") and met is True


def test_sizes_below_one_are_refused_before_anything_loads(capsys):
    with pytest.raises(SystemExit):
        _bench().main(["--quick", "--seeds", "0"])
    assert "--seeds 0: each must be at least 1" in capsys.readouterr().err


def test_paired_difference_and_merge_score_the_yes_no_domain_by_balanced_accuracy():
    bench = _bench()

    def rows(math, no, yes):  # per-prompt responses: math right?, yes_no answers to "no" and "yes" labels
        return ([{"domain": "math", "label": "4", "response": "4" if ok else "5"} for ok in math]
                + [{"domain": "yes_no", "label": "no", "response": a} for a in no]
                + [{"domain": "yes_no", "label": "yes", "response": a} for a in yes])

    run = lambda eval_rows: {"eval_rows": eval_rows, "share_last_third": {}, "share_by_round": [], "rm_calls": 0,  # noqa: E731
                              "rm_samples": 0, "decisions": 0, "wall_seconds": 0}
    a = rows([1, 0], ["No.", "No."], ["No."])    # math 0.5; "No." to everything: yes_no 0.5 (plain accuracy 0.667)
    b = rows([0, 0], ["Yes.", "Yes."], ["Yes."])  # math 0.0; "Yes." to everything: yes_no 0.5 (plain 0.333)
    table = bench.summarise({"a": {0: run(a)}, "b": {0: run(b)}}, [])
    assert table["a"]["gold"] == {"math": 0.5, "yes_no": 0.5, "all": 0.5}
    assert table["b"]["gold"]["all"] == 0.25
    assert bench._paired(table["a"], table["b"]).startswith(" (paired difference +0.250")
    # --render --merge rescoring the start policy from its rows (partials written before had none)
    result = {"config": {"misleading_arms": []}, "audit_view": {"consensus": {}}, "start_eval": {"yes_no": 0.667}}
    merged = bench._merged(result, [{"runs": {"a": {"0": run(a)}}, "start_eval_rows": a}])
    assert merged["start_eval"] == {"math": 0.5, "yes_no": 0.5, "all": 0.5}


def test_best_arm_target_names_a_tie():
    bench = _bench()
    laser = {"gold": {"all": 0.6}, "misleading_share_last_third": 0.0,
             "share_last_third": {"math": {"verifier": 1.0}, "yes_no": {"verifier": 1.0}}}
    table = {"laser:verifier": laser,
             "fixed:verifier": {"gold": {"all": 0.6, "math": 0.8, "yes_no": 0.5}, "share_last_third": {}},
             "fixed:sentiment": {"gold": {"all": 0.4, "math": 0.2, "yes_no": 0.5}, "share_last_third": {}}}
    (_, measured, met), = [t for t in bench.targets(table, "laser:verifier", ["math", "yes_no"]) if "most-picked" in t[0]]
    assert met is True and measured.startswith("2/2")
    assert "math: verifier vs verifier;" in measured and "yes_no: verifier vs verifier = sentiment (tie)" in measured
