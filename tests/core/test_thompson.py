"""Linear Thompson sampling with priors, against the closed-form posterior."""
import numpy as np
import pytest

from laser_plugin import make_selector
from laser_plugin.core.state_io import save_state


def test_prior_sets_expected_scores_before_any_update():
    mu0 = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    sel = make_selector("bayesian_router", 3, 2, prior=mu0)
    assert sel.name == "thompson"  # the alias builds the canonical selector
    x = np.array([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_allclose(sel.expected_scores(x), x @ mu0.T)
    # with no exploration the draw is the posterior mean: the offline router's choice
    greedy = make_selector("thompson", 3, 2, prior=mu0, exploration=0.0)
    assert list(greedy.select(x)) == [1, 0]


def test_posterior_matches_closed_form():
    rng = np.random.default_rng(0)
    mu0 = rng.standard_normal((2, 3))
    sel = make_selector("thompson", 2, 3, prior=mu0, prior_strength=2.0, noise=0.5)
    x = rng.standard_normal((20, 3))
    r = rng.random(20)
    for i in range(0, 20, 4):  # single rows and 4-row (Woodbury) updates
        sel.update([0], x[i:i + 1], r[i:i + 1])
        sel.update([0, 0, 0], x[i + 1:i + 4], r[i + 1:i + 4])
    lam = 2.0 * np.eye(3) + x.T @ x / 0.25
    b = 2.0 * mu0[0] + x.T @ r / 0.25
    np.testing.assert_allclose(sel.covariance(0), np.linalg.inv(lam), atol=1e-12)
    np.testing.assert_allclose(sel.mu[0], np.linalg.solve(lam, b), atol=1e-12)
    np.testing.assert_allclose(sel.mu[1], mu0[1])  # arm 1 untouched
    np.testing.assert_allclose(sel.covariance(1), np.eye(3) / 2.0)


def test_hand_computed_one_dimensional_posterior():
    # d = 1, lambda0 = 1, mu0 = 2, s = 1: one reward 0 at x = 1 -> Lambda = 2, b = 2, mu = 1, Sigma = 1/2
    sel = make_selector("thompson", 1, 1, prior=[[2.0]], prior_strength=1.0, noise=1.0)
    sel.update([0], [[1.0]], [0.0])
    assert sel.mu[0, 0] == pytest.approx(1.0)
    assert sel.covariance(0)[0, 0] == pytest.approx(0.5)


def test_draws_have_the_posterior_mean_and_variance():
    sel = make_selector("thompson", 1, 2, prior=[[0.5, -0.25]], prior_strength=4.0, exploration=1.5, seed=3)
    x = np.tile([[1.0, 1.0]], (20000, 1))
    draws = sel.scores(x)[:, 0]  # independent draws per row
    assert draws.mean() == pytest.approx(0.25, abs=0.02)
    assert draws.var() == pytest.approx(1.5 ** 2 * 2.0 / 4.0, rel=0.05)  # v^2 x^T (I/4) x


def test_discounted_thompson_decays_toward_the_prior():
    # The maths changed on purpose (issue 16): Lambda <- g (Lambda - lam0) + lam0 and b <- g (b - lam0 mu0) + lam0 mu0
    # per decision; the prior is never lost (the old engine decayed it and restored it below a floor).
    sel = make_selector("thompson", 1, 1, prior=[[2.0]], prior_strength=1.0, noise=1.0, discount=0.5)
    sel.update([0], [[1.0]], [0.0])  # nothing to decay yet: Lambda = 1 + 1, b = 1 * 2 + 0: mu = 1
    assert sel.mu[0, 0] == pytest.approx(1.0)
    assert sel.covariance(0)[0, 0] == pytest.approx(0.5)
    sel.update([0], [[1.0]], [0.0])  # Lambda = 0.5 (2 - 1) + 1 + 1 = 2.5, b = 0.5 (2 - 2) + 2 + 0 = 2
    assert sel.covariance(0)[0, 0] == pytest.approx(1 / 2.5)
    assert sel.mu[0, 0] == pytest.approx(2.0 / 2.5)


def _explicit_posterior(lam0, mu0, noise, x, r, weights):
    """Information form by hand: Lambda = lam0 I + sum w x x^T / s^2, b = lam0 mu0 + sum w r x / s^2."""
    lam = lam0 * np.eye(len(mu0)) + (x * weights[:, None]).T @ x / noise ** 2
    b = lam0 * mu0 + x.T @ (weights * r) / noise ** 2
    return np.linalg.inv(lam), np.linalg.solve(lam, b)


@pytest.mark.parametrize("forget", [{"discount": 0.9}, {"window": 7}])
def test_forgetting_thompson_matches_the_explicit_weighted_posterior_and_its_draws(forget):
    rng = np.random.default_rng(12)
    k, d, lam0, noise, v = 3, 4, 2.0, 0.3, 0.7
    mu0 = rng.standard_normal((k, d))
    sel = make_selector("thompson", k, d, seed=5, prior=mu0, prior_strength=lam0, noise=noise, exploration=v,
                        **forget)
    x, r, arms = rng.standard_normal((40, d)), rng.random(40), rng.integers(0, k, 40)
    calls = (1, 2, 1, 4, 1, 3, 1, 1, 2, 5, 1, 1, 3, 2, 1, 4, 1, 2, 1, 1, 2)
    assert sum(calls) == 40
    done = np.zeros(40, dtype=bool)
    age = np.zeros(40)  # decisions made AFTER each row's call
    lo = 0
    for m in calls:
        sel.update(arms[lo:lo + m], x[lo:lo + m], r[lo:lo + m])
        age[done] += m
        done[lo:lo + m] = True
        lo += m
        if "discount" in forget:
            w = np.where(done, forget["discount"] ** age, 0.0)
        else:
            w = (done & (np.arange(40) >= lo - forget["window"])).astype(float)
        for a in range(k):
            cov, mu = _explicit_posterior(lam0, mu0[a], noise, x[arms == a], r[arms == a], w[arms == a])
            np.testing.assert_allclose(sel.covariance(a), cov, atol=1e-12)
            np.testing.assert_allclose(sel.mu[a], mu, atol=1e-12)
    # the seeded draws: x . mu_k + v sqrt(x^T Sigma_k x) z, with z from the selector's own generator
    z_ctx = rng.standard_normal((6, d))
    z = np.random.default_rng(5).standard_normal((6, k))  # updates never touch the RNG
    expected = np.stack([z_ctx @ sel.mu[a] + v * np.sqrt(np.einsum("nd,de,ne->n", z_ctx, sel.covariance(a), z_ctx))
                         * z[:, a] for a in range(k)], axis=1)
    np.testing.assert_allclose(sel.scores(z_ctx), expected, rtol=1e-10)


def test_prior_file_round_trip_and_mismatch(tmp_path):
    mu0 = np.arange(6, dtype=float).reshape(3, 2)
    save_state(tmp_path / "prior.safetensors", {"prior_mean": mu0})
    sel = make_selector("thompson", 3, 2, prior=str(tmp_path / "prior.safetensors"))
    np.testing.assert_allclose(sel.mu, mu0)
    with pytest.raises(ValueError, match=r"shape \(3, 2\), but this selector has K=4 arms and d=2"):
        make_selector("thompson", 4, 2, prior=str(tmp_path / "prior.safetensors"))
    save_state(tmp_path / "other.safetensors", {"embeddings": mu0})
    with pytest.raises(ValueError, match="has no 'prior_mean' array"):
        make_selector("thompson", 3, 2, prior=str(tmp_path / "other.safetensors"))
    with pytest.raises(FileNotFoundError, match="missing.safetensors does not exist"):
        make_selector("thompson", 3, 2, prior=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="prior means contain NaN"):
        make_selector("thompson", 1, 2, prior=[[np.nan, 0.0]])


def test_prior_strength_defaults_to_weak_alone_and_strong_with_a_prior():
    x = np.array([[1.0, 1.0]])
    alone = make_selector("thompson", 1, 2)
    routed = make_selector("bayesian_router", 1, 2, prior=[[0.5, 0.0]])
    # 4.0 alone since issue 16 (was 1.0: tuned on benchmarks/bench_selector_family.py)
    assert alone.config.prior_strength == 4.0 and routed.config.prior_strength == 100.0
    np.testing.assert_allclose(routed.covariance(0), np.eye(2) / 100.0)
    # an explicit strength wins, with or without a prior
    assert make_selector("thompson", 1, 2, prior=[[0.5, 0.0]], prior_strength=2.0).config.prior_strength == 2.0
    assert make_selector("thompson", 1, 2, prior_strength="3").config.prior_strength == 3.0
    assert routed.scores(x).shape == (1, 1)


@pytest.mark.parametrize("bad, match", [
    ({"noise": 0}, "noise must be > 0"),
    ({"prior_strength": -1}, "prior_strength must be > 0"),
    ({"exploration": -0.1}, "exploration must be >= 0"),
    ({"discount": 0}, r"discount must be in \(0, 1\]"),
    ({"ridge_floor": 0}, r"ridge_floor must be in \(0, 1\)"),
    ({"refactor_every": "0"}, "refactor_every must be >= 1"),
    ({"alpha": 0.1}, r"selector 'thompson' has no option\(s\) \['alpha'\]; valid options: discount, exploration"),
])
def test_bad_configs(bad, match):
    with pytest.raises(ValueError, match=match):
        make_selector("thompson", 2, 2, **bad)
