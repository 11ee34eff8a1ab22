"""SIGKILL a tiny iterative-DPO run at seeded random points, resume each time with
``--ckpt.load_enable`` alone, and require the end result to be BIT-EXACT the uninterrupted run's:
final bandit state, every round's bandit state, every decision (samples.jsonl: arm, decision id,
reward per sample), every preference pair, the round summaries (timings aside) and the final model.

Kill points (laser_plugin.testing.faults, test-only): sampling, scoring, training, the checkpoint
after DeepSpeed's files, the checkpoint after the bandit state. After the DeepSpeed-files kill the
test also points ``latest`` at that half-written round, the state the issue reported (old code let
DeepSpeed move ``latest`` before the bandit state existed): the resume must skip it, say why, and
still end bit-exact. Every run is the real ``laser-plugin iterative-dpo`` main, forked from one
process that imported torch/DeepSpeed/OpenRLHF once (ForkRunner), so a kill + resume costs seconds.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from laser_plugin.core.state_io import load_state
from tests.faults.conftest import dpo_argv

pytestmark = pytest.mark.slow

SEED = 18
PHASES = ("sample", "score", "train", "ckpt_ds", "ckpt_bandit")  # execution order within a round
ROUNDS = 3


def _pool(inputs: dict[str, Path]) -> str:
    return f"func:{inputs['vowels']}@vowels,func:{inputs['length']}@length"


def _states_equal(a: Path, b: Path) -> bool:
    x, y = load_state(a), load_state(b)
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def _untimed(obj: Any) -> Any:
    """Round summaries without wall/CPU timings (the only thing a resume may change)."""
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if "seconds" not in k}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def reference(tmp_path_factory: Any, fork_runner: Any, fault_inputs: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("dpo_reference") / "run"
    rc = fork_runner.run(dpo_argv(fault_inputs, out, _pool(fault_inputs)), out.parent / "reference.log")
    assert rc == 0, (out.parent / "reference.log").read_text()[-4000:]
    return out


def _kill_plan(reference: Path) -> list[str]:
    """One kill per phase at a seeded random round (and call, where a round has several), in the
    order the run reaches them, so each later kill happens in the run resumed after the previous."""
    rounds = json.loads((reference / "laser_summary.json").read_text())["rounds"]
    assert all(r["optimizer_steps"] > 0 for r in rounds), "every round must train for the training kill point"
    rng = random.Random(SEED)
    plan = []
    for phase in PHASES:
        r = rng.randrange(ROUNDS)
        calls = {"score": rounds[r]["decisions"], "train": rounds[r]["optimizer_steps"]}.get(phase, 1)
        plan.append((r, PHASES.index(phase), f"{phase}@{r}:{rng.randint(1, max(calls, 1))}"))
    return [spec for _, _, spec in sorted(plan)]


def test_killed_anywhere_resumes_with_load_enable_and_ends_bit_exact(reference: Path, tmp_path: Path,
                                                                     fork_runner: Any, fault_inputs: dict) -> None:
    out = tmp_path / "run"
    argv = dpo_argv(fault_inputs, out, _pool(fault_inputs))
    plan = _kill_plan(reference)
    assert plan[0].startswith(("sample", "score", "train", "ckpt")) and len(plan) == len(PHASES)
    expect: list[str] = []  # what the next (resumed) run must print
    for i, fault in enumerate([*plan, None]):
        log = tmp_path / f"run{i}.log"
        rc = fork_runner.run(argv + (["--ckpt.load_enable"] if i else []), log, fault=fault)
        text = log.read_text()
        for line in expect:
            assert line in text, (line, text[-3000:])
        if fault is None:
            assert rc == 0, text[-4000:]
            break
        assert rc == -9 and f"[fault] SIGKILL after {fault.split('@')[0]}" in text, (fault, rc, text[-3000:])
        r = int(fault.split("@")[1].split(":")[0])
        expect = [f"resumed after round {r - 1}"] if r else []
        if fault.startswith("ckpt_ds"):
            # DeepSpeed's files of round r are there, its bandit state is not. Point `latest` at it,
            # as the old code left it (the report): the resume must skip it and say why.
            assert not (out / f"checkpoints/round_{r}/laser_bandit.safetensors").exists()
            (out / "checkpoints" / "latest").write_text(f"round_{r}")
            expect.append(f"skipped round_{r}: no laser_bandit.safetensors")
        elif fault.startswith("ckpt_bandit"):
            expect.append(f"skipped round_{r}: newer than the last committed checkpoint")

    # Bit-exact: bandit states, decisions, pairs, summaries, model.
    assert _states_equal(out / "laser_bandit.safetensors", reference / "laser_bandit.safetensors")
    for r in range(ROUNDS):
        assert _states_equal(out / f"checkpoints/round_{r}/laser_bandit.safetensors",
                             reference / f"checkpoints/round_{r}/laser_bandit.safetensors"), r
        for name in ("samples.jsonl", "pairs.jsonl"):
            assert (out / f"rounds/round_{r}/{name}").read_bytes() == (reference / f"rounds/round_{r}/{name}").read_bytes()
    got, want = (json.loads((d / "laser_summary.json").read_text()) for d in (out, reference))
    assert _untimed(got["rounds"]) == _untimed(want["rounds"])
    assert [r["round"] for r in got["rounds"]] == list(range(ROUNDS))  # each round once: nothing counted twice
    assert (out / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()


def test_a_round_in_which_every_decision_abstains_warns_and_trains_nothing(tmp_path: Path, fork_runner: Any,
                                                                            fault_inputs: dict) -> None:
    # The default for labelled prompts (verifier signal, explore_by scoring) on a policy that never
    # answers right: the verifier judges no decision, so no arm is ever believed better than chance and
    # every decision abstains. The run completes, trains nothing, and says why and what to do.
    out = tmp_path / "run"
    argv = dpo_argv(fault_inputs, out, _pool(fault_inputs), "--laser.rounds", 1, "--reward_selector.explore_by", "scoring")
    log = tmp_path / "run.log"
    assert fork_runner.run(argv, log) == 0, log.read_text()[-4000:]
    (rnd,) = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert rnd["abstained"] == rnd["decisions"] == 4 and rnd["pairs"] == rnd["optimizer_steps"] == 0
    text = log.read_text()
    assert "every decision abstained, nothing trained" in text and "--laser.signal audit or auto" in text
