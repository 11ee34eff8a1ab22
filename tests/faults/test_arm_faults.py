"""Reward arms that break mid-run: an ``http:`` arm answering 500, answering slower than its timeout,
returning the wrong number of scores, and a ``func:`` arm returning NaN for some rows.

tests/pool already covers a timeout with retries then quarantine, a transient 500 that a retry
absorbs, and a NaN arm quarantined at the pool and bandit level; here: a 500 that persists and a
wrong score count at the pool level (fast), and all four faults inside one real iterative-DPO run
(slow): the run finishes, each broken arm is quarantined and named in the log, and every reward that
reached a preference pair and the DPO loss is finite and came from an arm that did not fail.
"""
from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import numpy as np
import pytest

from laser_plugin.pool import ArmSpec, RewardPool, ScoringBatch
from tests.faults.conftest import dpo_argv


class _Handler(BaseHTTPRequestHandler):
    """/get_reward whose n-th answer follows ``state["schedule"]`` (the last entry repeats):
    ok | 500 | slow (sleeps past the client's timeout, then answers) | wrong (one score too many)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        state = self.server.state  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        schedule = state["schedule"]
        mode = schedule[min(len(state["seen"]), len(schedule) - 1)]
        state["seen"].append(mode)
        if mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        if mode == "slow":
            time.sleep(1.5)  # the arm's timeout_s is 0.5
        n = len(body["query"]) + (1 if mode == "wrong" else 0)
        data = json.dumps({"rewards": [float(len(q) % 5) for q in (body["query"] * 2)[:n]]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def reward_server() -> Iterator[tuple[str, dict]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.state = {"schedule": ["ok"], "seen": []}  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/get_reward", server.state  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _batch(n: int = 3) -> ScoringBatch:
    prompts = [f"What is {i} plus 1?" for i in range(n)]
    responses = [f"It is {i + 1}." + " really" * i for i in range(n)]
    return ScoringBatch(queries=[p + " " + r for p, r in zip(prompts, responses)], prompts=prompts,
                        responses=responses, labels=[str(i + 1) for i in range(n)])


@pytest.mark.parametrize("mode, error", [("500", "500"), ("wrong", "expected 3 rewards")])
def test_http_arm_that_keeps_failing_is_quarantined_and_its_rows_rescored(reward_server, fault_files, mode, error):
    url, state = reward_server
    state["schedule"] = [mode]
    pool = RewardPool([ArmSpec("http", url, name="web", timeout_s=0.5, retries=0),
                       ArmSpec("func", str(fault_files["length"]), name="length")], normalize="none")
    pool.load_all()
    batch = _batch()
    for i in range(3):  # max_consecutive_failures = 3
        _, raw, used = pool.score(batch, np.zeros(3, dtype=int), return_arms=True)
        assert (used == 1).all() and np.isfinite(raw).all()  # every row rescored by the healthy arm
        np.testing.assert_allclose(raw, [(len(q) - len(p)) / 8.0 for q, p in zip(batch.queries, batch.prompts)],
                                   rtol=1e-6)
    assert pool.quarantined() == {0} and pool.events[-1]["quarantined"] and error in pool.events[-1]["error"]
    assert pool.metrics()["pool/web/failures"] == 3.0 and len(state["seen"]) == 3
    pool.score(batch, np.zeros(3, dtype=int))
    assert len(state["seen"]) == 3  # quarantined: not asked again


@pytest.mark.slow
def test_iterative_dpo_goes_on_through_broken_arms(tmp_path, reward_server, fork_runner, fault_inputs):
    url, state = reward_server
    # first answer fine, then 500, too slow, wrong count (three failures in a row -> quarantine)
    state["schedule"] = ["ok", "500", "slow", "wrong"]
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps([f"func:{fault_inputs['length']}@length", f"func:{fault_inputs['nan_midrun']}@nanarm",
                                {"kind": "http", "target": url, "name": "web", "timeout_s": 0.5, "retries": 0}]))
    out, log = tmp_path / "run", tmp_path / "run.log"
    # round_robin: every arm gets its turns, so each breaks while the run is going
    rc = fork_runner.run(dpo_argv(fault_inputs, out, str(pool), selector="round_robin"), log)
    text = log.read_text()
    assert rc == 0, text[-4000:]
    assert "reward arm nanarm failed (quarantined)" in text and "NaN" in text
    assert "reward arm web failed (quarantined)" in text
    assert state["seen"][:4] == ["ok", "500", "slow", "wrong"] and len(state["seen"]) == 4  # then never asked
    for r in range(3):
        samples = [json.loads(x) for x in (out / f"rounds/round_{r}/samples.jsonl").read_text().splitlines()]
        assert all(math.isfinite(s["reward"]) and math.isfinite(s["raw_score"]) for s in samples)
        # a broken arm is only credited with rows it scored before it broke (nanarm: 0.5 each)
        assert all(s["raw_score"] == 0.5 for s in samples if s["arm"] == "nanarm")
        pairs = [json.loads(x) for x in (out / f"rounds/round_{r}/pairs.jsonl").read_text().splitlines()]
        assert all(math.isfinite(p["gap"]) for p in pairs)
    rounds = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert sum(r["optimizer_steps"] for r in rounds) > 0
    assert all(r["loss_mean"] is None or math.isfinite(r["loss_mean"]) for r in rounds)
    from laser_plugin.core.state_io import load_state

    state_file = load_state(out / "laser_bandit.safetensors")
    assert all(np.isfinite(v).all() for k, v in state_file.items() if v.dtype.kind == "f")
