"""LaserRewardRouter without a trainer: TRL's calling convention, per-group / per-call routing over
real func: arms (only the chosen arm is called), delayed loss feedback, immediate signals,
quarantine fallback and an exact state round trip. Routers that check which arms ran or the loss
path ask for ``signal="loss"``: the default (audit) scores every arm on a seeded share of decisions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from laser_plugin.adapters.trl.router import LaserRewardRouter, prompt_groups, scoring_batch
from laser_plugin.pool.bandit_pool import BanditRewardPool

HERE = Path(__file__).parent


def _specs(tmp_path: Path, nan_arm: str | None = None) -> list[dict]:
    return [{"kind": "func", "target": str(HERE / "counting_reward.py"), "name": name,
             "func_kwargs": {"log_path": str(tmp_path / f"{name}.log"), "offset": off, "nan": name == nan_arm}}
            for name, off in (("a", 0.0), ("b", 1.0), ("c", 2.0))]


def _calls(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.log"
    return len(path.read_text().split()) if path.exists() else 0


def _inputs(n_prompts: int = 4, g: int = 2, shift: int = 0):
    prompts = [f"What is {i + shift} plus {2 * i}?" for i in range(n_prompts) for _ in range(g)]
    completions = [f" it is {j} maybe {j * 7}" for j in range(len(prompts))]
    return prompts, completions


class _State:  # the two TrainerState fields the router reads
    def __init__(self, step: int) -> None:
        self.global_step = step


def test_prompt_groups_and_chat_inputs():
    assert prompt_groups(["p", "p", "q", "q"], 2).tolist() == [0, 0, 1, 1]
    assert prompt_groups(["p", "q", "p", "q"], None).tolist() == [0, 1, 0, 1]  # OnlineDPO's prompts * 2
    # not in G-blocks (evaluation with num_generations_eval, OnlineDPO): equal prompts still share a group
    assert prompt_groups(["p", "q", "q", "q"], 2).tolist() == [0, 1, 1, 1]
    assert prompt_groups(["p", "p", "q"], 2).tolist() == [0, 0, 1]
    chat_p = [[{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]]
    chat_c = [[{"role": "assistant", "content": "4"}]]
    b = scoring_batch(chat_p, chat_c)
    assert b.responses == ["4"] and b.extra["raw_prompts"] == ["2+2?"] and b.queries[0].endswith("4")


def test_group_routing_runs_only_the_chosen_arms(tmp_path):
    router = LaserRewardRouter(_specs(tmp_path), selector="round_robin", granularity="group", num_generations=2,
                               signal="loss")
    assert router.__name__ == "laser_router"
    prompts, completions = _inputs(4, 2)
    logged: dict[str, list[float]] = {}
    rewards = router(prompts=prompts, completions=completions, completion_ids=None, trainer_state=_State(0),
                     log_metric=lambda k, v: logged.setdefault(k, []).append(v), answer=["1"] * 8)
    assert len(rewards) == 8 and all(np.isfinite(rewards))
    arms = [d["arm"] for d in router.decision_log]
    assert len(arms) == 4 and all(d["rows"] == 2 for d in router.decision_log)
    for name in "abc":  # one grouped call per chosen arm, none for the others
        assert _calls(tmp_path, name) == (1 if name in arms else 0)
    assert logged["laser/choice/a"] == [arms.count("a") / 4]
    assert "pool/b/calls" in logged and "laser/select/c" in logged
    raw = LaserRewardRouter(_specs(tmp_path), selector="fixed", selector_options={"arm": 2}, rewards="raw",
                            signal="loss", granularity="batch")
    out = raw(prompts=prompts, completions=completions)
    assert [d["arm"] for d in raw.decision_log] == ["c"] and min(out) >= 2.0  # offset 2 arm, raw scores


def test_loss_feedback_waits_for_the_steps_trained_on_the_rewards(tmp_path):
    router = LaserRewardRouter(_specs(tmp_path), granularity="batch", signal="loss")
    router.steps_per_call = 2  # e.g. steps_per_generation=2: one call's rewards serve two optimizer steps
    prompts, completions = _inputs()
    router(prompts=prompts, completions=completions, trainer_state=_State(0))
    assert router.feed_loss(0.3, global_step=1) == 0 and router.pending_decisions == 1
    assert router.feed_loss(0.2, global_step=2) == 1 and router.pending_decisions == 0
    assert router.bandit.metrics()["laser/decisions"] == 1
    router(prompts=prompts, completions=completions, trainer_state=_State(2))
    with pytest.raises(ValueError, match="non-finite"):
        router.feed_loss(float("nan"), global_step=5)


def test_immediate_signals(tmp_path):
    gv = LaserRewardRouter(_specs(tmp_path), signal="group_variance", num_generations=2)
    prompts, completions = _inputs()
    gv(prompts=prompts, completions=completions)
    assert gv.pending_decisions == 0 and gv.bandit.metrics()["laser/pending"] == 0
    ver = LaserRewardRouter(_specs(tmp_path), signal="verifier", verifier="a", num_generations=2)
    ver(prompts=prompts, completions=completions)
    assert 0.0 <= ver.last_signal <= 1.0
    with pytest.raises(ValueError, match="not an arm"):
        LaserRewardRouter(_specs(tmp_path), signal="verifier", verifier="zzz")
    # the cross-arm audit (every decision here): the two arms not chosen score each group once more;
    # a, b, c are offsets of one score: they never contradict each other (1 where a group's two
    # completions differ, 1/2 where they tie)
    aud = LaserRewardRouter(_specs(tmp_path), signal="audit", audit_share=1.0, num_generations=2)
    aud(prompts=prompts, completions=completions)
    m = aud.bandit.metrics()
    assert m["laser/audits"] == 4 and m["laser/pending"] == 0 and 0.5 <= aud.last_signal <= 1.0
    assert sum(m[f"pool/{n}/samples"] for n in "abc") == 3 * len(prompts)  # every arm scored every row once
    with pytest.raises(ValueError, match="audit_share"):
        LaserRewardRouter(_specs(tmp_path), signal="audit", audit_share=1.5)
    # no signal given: the PPO/GRPO default, the audit, or the verifier where one is named
    assert LaserRewardRouter(_specs(tmp_path)).config.signal == "audit"
    assert LaserRewardRouter(_specs(tmp_path), verifier="b").config.signal == "verifier"


def test_invalid_configurations(tmp_path):
    with pytest.raises(ValueError, match="ensemble"):
        LaserRewardRouter(_specs(tmp_path), selector="score_mean")
    with pytest.raises(ValueError, match="granularity"):
        LaserRewardRouter(_specs(tmp_path), granularity="row")
    with pytest.raises(ValueError, match="unknown selector"):
        LaserRewardRouter(_specs(tmp_path), selector="lasr")
    bandit = BanditRewardPool(_specs(tmp_path), granularity="batch")
    with pytest.raises(ValueError, match="decides per 'batch'"):
        LaserRewardRouter(bandit, granularity="group")


def test_nan_arm_is_quarantined_and_its_groups_rescored(tmp_path):
    router = LaserRewardRouter(_specs(tmp_path, nan_arm="a"), selector="fixed", selector_options={"arm": 0},
                               signal="loss",
                               granularity="group", num_generations=2)
    prompts, completions = _inputs()
    rewards = router(prompts=prompts, completions=completions)
    assert all(np.isfinite(rewards))
    m = router.bandit.metrics()
    assert m["pool/a/quarantined"] == 1.0 and m["laser/fallbacks"] == 4
    assert {d["arm"] for d in router.decision_log} == {"b"}  # the next-best usable arm


def test_state_round_trip_gives_the_same_next_decisions(tmp_path):
    def make():
        return LaserRewardRouter(_specs(tmp_path), selector="thompson", granularity="group", num_generations=2,
                                 signal="loss",
                                 seed=5)

    a = make()
    for step in range(3):
        p, c = _inputs(shift=step)
        a(prompts=p, completions=c, trainer_state=_State(step))
        a.feed_loss(0.1 * step, global_step=step + 1)
    p, c = _inputs(shift=9)
    a(prompts=p, completions=c, trainer_state=_State(3))  # pending at save time
    a.save(tmp_path / "state.safetensors", global_step=4)
    b = make()
    b.load(tmp_path / "state.safetensors", expect_step=4)
    with pytest.raises(ValueError, match="saved at global_step 4"):
        make().load(tmp_path / "state.safetensors", expect_step=3)
    assert b.pending_decisions == a.pending_decisions == 4
    for r in (a, b):
        r.feed_loss(0.5, global_step=4)
        p, c = _inputs(shift=11)
        r(prompts=p, completions=c, trainer_state=_State(4))
    assert [d["arm"] for d in a.decision_log[-4:]] == [d["arm"] for d in b.decision_log]
    assert [d["decision"] for d in a.decision_log[-4:]] == [d["decision"] for d in b.decision_log]


def test_http_arm_behind_the_router(tmp_path):
    """An http: arm speaking serve_rm's /get_reward protocol, routed like any other arm."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(len(body["query"]))
            data = json.dumps({"rewards": [float(len(q)) for q in body["query"]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/get_reward@remote"
        router = LaserRewardRouter([_specs(tmp_path)[0], url], selector="fixed", selector_options={"arm": 1},
                                   signal="loss",
                                   granularity="group", num_generations=2, rewards="raw")
        prompts, completions = _inputs()
        out = router(prompts=prompts, completions=completions)
        assert seen == [8] and _calls(tmp_path, "a") == 0  # one request for the 4 groups, func arm idle
        assert out == [float(len(p + c)) for p, c in zip(prompts, completions)]
        assert {d["arm"] for d in router.decision_log} == {"remote"}
    finally:
        server.shutdown()
        server.server_close()
