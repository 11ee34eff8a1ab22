"""The family regret benchmark's environment generator and its quick path (fast: no full run)."""
import sys

import numpy as np
import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def bench():
    try:
        yield load_benchmark("bench_selector_family")
    finally:
        sys.modules.pop("bench_selector_family", None)


def test_seed_sets_are_disjoint_and_large_enough(bench):
    assert len(bench.HELDOUT_SEEDS) >= 30
    assert not set(bench.HELDOUT_SEEDS) & set(bench.TUNE_SEEDS)


def test_generated_environments_cover_the_family(bench):
    envs = [bench.make_env(s, T=5000) for s in bench.HELDOUT_SEEDS]
    assert {e.K for e in envs} <= set(range(3, 9)) and len({e.K for e in envs}) >= 4
    assert {e.d for e in envs} <= set(bench.DIMS) and min(e.d for e in envs) == 16 and max(e.d for e in envs) == 128
    assert {len(e.drift_times) for e in envs} == {0, 1, 2}
    assert sum(e.misleading is not None for e in envs) >= len(envs) // 2
    for e in envs:
        assert all(0.3 * e.T <= t <= 0.85 * e.T for t in e.drift_times)
        assert e.drift_times == sorted(e.drift_times)
        assert len(e.thetas) == len(e.quality) == len(e.drift_times) + 1
        for before, after in zip(e.quality, e.quality[1:]):  # each drift moves the best arm of >= 1 cluster
            assert (before.argmax(axis=0) != after.argmax(axis=0)).any()
        if e.misleading is not None:  # best on the busiest cluster, noisiest, poor elsewhere
            q = e.quality[0]
            assert q[:, e.shares.argmax()].argmax() == e.misleading
            assert e.sigma[e.misleading] == e.sigma.max()
            assert np.delete(q[e.misleading], e.shares.argmax()).max() <= 0.3


def test_environment_is_deterministic_and_hits_its_cluster_means(bench):
    a, b = bench.make_env(3, T=2000), bench.make_env(3, T=2000)
    xa, mua = a.stream()
    xb, mub = b.stream()
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(mua, mub)
    np.testing.assert_allclose(np.linalg.norm(xa[:, :-1], axis=1), 1.0)  # unit features + bias
    np.testing.assert_array_equal(xa[:, -1], 1.0)
    rng = np.random.default_rng(0)
    for m in range(a.M):  # designed cluster means (before the clip, which rarely binds)
        x = a.features(np.full(4000, m), rng)
        np.testing.assert_allclose((x @ a.thetas[0].T).mean(axis=0), a.quality[0][:, m], atol=0.02)


def test_quick_path_runs_and_gives_finite_ratios(bench):
    env = bench.make_env(bench.TUNE_SEEDS[1], T=300)
    regret = bench.run(env, "laser", {}, seed=0)
    assert regret.shape == (300,) and (regret >= -1e-12).all()
    r = bench.ratios(env, regret)
    assert np.isfinite(r["before"]) and (r["after"] is None or np.isfinite(r["after"]))
    res = bench.evaluate(bench.TUNE_SEEDS[:2], {"laser": ("laser", {})}, T=200, log=False)
    s = res["laser"]["summary"]
    assert s["n_before"] == 2 and s["median_before"] is not None
    assert bench.check_targets(res)[0]["selector"] == "laser"
