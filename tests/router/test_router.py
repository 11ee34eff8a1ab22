"""train-router: per-domain routing on held-out pairs, the report, the prior round trip, mismatches."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laser_plugin.analysis import agreement_matrix
from laser_plugin.cli import main
from laser_plugin.core.registry import make_selector
from laser_plugin.router import load_router
from laser_plugin.router.encoders import resolve_encoder
from laser_plugin.router.pipeline import encode_texts
from laser_plugin.router.prior import RouterPriorMismatch
from tests.router.conftest import make_pairs

DIM = 32


@pytest.fixture(scope="module")
def trained(domain_data, domain_pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("router") / "router.safetensors"
    argv = ["train-router", "--data", str(domain_data), "--reward_pool", domain_pool, "--output", str(out),
            "--context_encoder", "hashing", "--context_dim", str(DIM), "--router.epochs", "150"]
    assert main(argv) == 0
    return out, argv


def test_router_picks_the_right_arm_per_domain(trained):
    out, _ = trained
    report = json.loads(out.with_suffix(".report.json").read_text())
    held = report["heldout"]
    assert held["single_arm"]["math_expert"] == pytest.approx(0.5, abs=0.15)  # each arm: right on one half
    assert held["router"] == 1.0 and held["best_single_arm"] < 0.7
    assert held["majority_vote"] == pytest.approx(0.5)  # one vote each way: always a tie
    prior = load_router(out, ["math_expert", "poem_expert"], DIM, "hashing", 0)
    ctx = resolve_encoder("hashing", DIM).build()(["Compute 7 plus 5 and give the sum.",
                                                   "Write a short poem about owls in 4 lines."])
    assert list(prior.scores(ctx).argmax(axis=1)) == [0, 1]
    assert out.with_suffix(".report.md").read_text().startswith("# Router report")


def test_rerun_uses_the_score_cache(trained, capsys):
    out, argv = trained
    assert main(argv) == 0
    assert "{'cached': 2, 'scored': 0}" in capsys.readouterr().out


def test_prior_round_trip_gives_identical_first_decisions(trained):
    out, _ = trained
    prior = load_router(out)
    enc = resolve_encoder("hashing", DIM).build()
    ctx = encode_texts(enc, [r["prompt"] for r in make_pairs(40, seed=7)])
    sel = make_selector("bayesian_router", 2, DIM, seed=3, prior=str(out), prior_strength=1e6, exploration=0.0)
    assert np.allclose(sel.expected_scores(ctx), prior.scores(ctx))
    assert np.array_equal(sel.select(ctx), prior.scores(ctx).argmax(axis=1))


def test_mismatched_prior_fails_clearly(trained):
    out, _ = trained
    with pytest.raises(RouterPriorMismatch, match="trained for arms"):
        load_router(out, ["poem_expert", "math_expert"], DIM, "hashing", 0)
    with pytest.raises(RouterPriorMismatch, match="context dim is 32"):
        load_router(out, None, 64)
    with pytest.raises(RouterPriorMismatch, match="context encoder is 'hashing'"):
        load_router(out, None, DIM, "hf:/models/policy")
    with pytest.raises(RouterPriorMismatch, match="encoder seed"):
        load_router(out, None, DIM, "hashing", 5)
    with pytest.raises(ValueError, match="K=3 arms and d=32"):
        make_selector("bayesian_router", 3, DIM, prior=str(out))


def test_agreement_matrix():
    diffs = np.array([[1.0, -1.0, 0.0, 2.0], [1.0, 1.0, 0.0, -1.0]])
    m = agreement_matrix(diffs)
    assert m.shape == (2, 2) and np.allclose(np.diag(m), 1) and m[0, 1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"\[K arms, P pairs\]"):
        agreement_matrix(np.zeros(3))


def test_bad_keys_are_named(domain_data, domain_pool, tmp_path):
    argv = ["train-router", "--data", str(domain_data), "--data.chosen_key", "good", "--reward_pool", domain_pool,
            "--output", str(tmp_path / "r.safetensors"), "--context_encoder", "hashing"]
    assert main(argv) == 2


def test_online_pool_starts_at_the_router(trained, domain_pool):
    from laser_plugin.pool.bandit_pool import BanditRewardPool
    from laser_plugin.pool.types import ScoringBatch
    from laser_plugin.router.prior import check_pool_prior

    out, _ = trained
    cfg = {"prior": str(out), "prior_strength": 1e6, "exploration": 0.0}
    bandit = BanditRewardPool(domain_pool, selector="bayesian_router", selector_config=cfg, context_dim=DIM,
                              context_encoder="hashing", granularity="group", seed=0)
    prior = check_pool_prior(cfg, bandit.arm_names, DIM, "hashing", 0)
    prompts = [r["prompt"] for r in make_pairs(12, seed=11)]
    batch = ScoringBatch(queries=[p + " GOOD" for p in prompts], prompts=prompts, responses=[" GOOD"] * 12)
    result = bandit.score(batch)
    assert np.array_equal(result.arms, prior.scores(bandit.encoder(prompts)).argmax(axis=1))
    assert set(result.arms) == {0, 1}


def test_encoder_identity_is_machine_independent():
    from laser_plugin.router.encoders import identity_of, minilm_path, resolve_encoder

    assert identity_of("hf:" + minilm_path()) == "minilm" == resolve_encoder("minilm", 16).identity
    assert identity_of("hf:/a/b/policy-135m/") == identity_of("hf:/c/policy-135m") == "hf:policy-135m"
    with pytest.raises(ValueError, match="unknown context encoder"):
        resolve_encoder("bert", 16)


def test_hf_arms_policy_encoder_and_hf_dataset(tiny_reward_models, tiny_policy, tmp_path):
    """Real (tiny) OpenRLHF RMs as arms, the policy's hidden states as context, a saved HF dataset
    with chat-format fields under other key names."""
    import datasets

    rows = make_pairs(24, seed=3)
    ds = datasets.Dataset.from_list([{"q": [{"role": "user", "content": r["prompt"]}], "good": r["chosen"],
                                      "bad": r["rejected"]} for r in rows])
    ds.save_to_disk(str(tmp_path / "ds"))
    out = tmp_path / "r.safetensors"
    pool = ",".join(f"hf:{p}" for p in tiny_reward_models[:2])
    argv = ["train-router", "--data", str(tmp_path / "ds"), "--data.prompt_key", "q", "--data.chosen_key", "good",
            "--data.rejected_key", "bad", "--reward_pool", pool, "--output", str(out), "--context_encoder",
            f"hf:{tiny_policy}", "--context_dim", "16", "--router.epochs", "20", "--score_batch_size", "8"]
    assert main(argv) == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert np.asarray(report["heldout"]["agreement"]).shape == (2, 2)
    prior = load_router(out, None, 16, f"hf:{tiny_policy}", 0)
    assert prior.prior_mean.shape == (2, 16) and prior.encoder.identity == "hf:policy"
    with pytest.raises(RouterPriorMismatch, match="context encoder"):
        load_router(out, None, 16, "hashing")


def test_hhh_extraction_and_text_rewards(tmp_path):
    import io
    import tarfile

    from laser_plugin.router.hhh import SUBSETS, extract_hhh
    from laser_plugin.router.text_rewards import reward_func

    archive = tmp_path / "bigbench-1.0.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for s in SUBSETS:
            task = {"examples": [{"input": f"q {s}", "target_scores": {"good": 1, "bad a": 0, "bad b": 0}}]}
            data = json.dumps(task).encode()
            info = tarfile.TarInfo(f"bigbench-1.0.0/bigbench/benchmark_tasks/hhh_alignment/{s}/task.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    rows = extract_hhh(archive)
    assert len(rows) == 8 and {r["subset"] for r in rows} == set(SUBSETS) and rows[0]["chosen"] == "good"
    out = reward_func(["p I'm sorry, I cannot.", "p Sure: three words"], ["p", "p"], [None, None], kind="caution")
    assert out == [2.0, 0.0]
    with pytest.raises(ValueError, match="kind must be one of"):
        reward_func(["x"], ["x"], [None], kind="vibes")
