"""A shortened `laser-plugin quickstart` end to end on tiny models (CLI in a subprocess, as users run it).

Pool: one tiny OpenRLHF RM (hf:) plus the demo verifier, sentiment and length arms; all four
selectors run in one process from the same start state; the table, plots and report are written.
"""
import json
import os
import subprocess
import sys

import pytest

from laser_plugin.demo.arms import arm_path

pytestmark = pytest.mark.slow


def test_quickstart_tiny_end_to_end(tmp_path, tiny_policy, tiny_reward_models):
    out = tmp_path / "qs"
    pool = f"hf:{tiny_reward_models[0]}@tiny_rm," + ",".join(f"func:{arm_path(n)}@{n}" for n in ("verifier", "sentiment", "length"))
    cmd = [sys.executable, "-m", "laser_plugin.cli", "quickstart", "--output-dir", str(out), "--model", str(tiny_policy),
           "--pool", pool, "--rounds", "2", "--prompts-per-round", "6", "--n-samples", "3", "--max-new-tokens", "8",
           "--train-per-domain", "4", "--eval-per-domain", "2", "--batch-size", "4", "--lr", "5e-3", "--max-len", "96",
           "--extra", "--reward_selector.context_dim", "8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "LASER_DEBUG": "1"})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    res = json.loads((out / "results.json").read_text())
    assert list(res["selectors"]) == ["laser", "random", "fixed", "score_mean"]
    assert res["arms"] == ["tiny_rm", "verifier", "sentiment", "length"]
    for sel, r in res["selectors"].items():
        assert [x["round"] for x in r["rounds"]] == [0, 1] and r["rm_calls"] > 0
        assert set(r["eval"]) == {"math", "yes_no", "writing", "all"}
        assert abs(sum(r["arm_share_by_domain"]["all"].values()) - 1) < 1e-9
    assert set(res["selectors"]["score_mean"]["arm_share_by_domain"]["all"]) == {"ensemble"}
    fixed = res["arms"][res["selectors"]["fixed"]["options"]["arm"]]
    assert set(res["selectors"]["fixed"]["arm_share_by_domain"]["all"]) == {fixed}
    # same start state and sampling seed: every selector saw the same round-0 samples
    r0 = {sel: (out / "runs" / sel / "rounds/round_0/samples.jsonl").read_text() for sel in res["selectors"]}
    responses = {sel: [json.loads(x)["response"] for x in t.splitlines()] for sel, t in r0.items()}
    assert all(v == responses["laser"] for v in responses.values())
    for name in ("report.md", "arm_choice.png", "reward_curves.png", "agreement.png", "agreement.md"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "init_state").exists()  # the start state is removed after the run
    assert "gold:all" in log and "share:" in log and "RM calls" in log
    report = (out / "report.md").read_text()
    assert "fixed (" in report and "score_mean" in report
    assert "95% CI (all)" in report and "Arm-selection share per round and domain" in report
    # the learning selector takes the quickstart's signal (verifier), the baselines do not audit
    summary = lambda sel: json.loads((out / "runs" / sel / "rounds/round_0/summary.json").read_text())  # noqa: E731
    assert summary("laser")["signal"] == "verifier" and summary("random")["audits"] == 0
