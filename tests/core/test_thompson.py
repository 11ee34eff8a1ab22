"""Linear Thompson sampling with priors, against the closed-form posterior."""
import numpy as np
import pytest

from laser_plugin import make_selector
from laser_plugin.core.state_io import save_state


def test_prior_sets_expected_scores_before_any_update():
    mu0 = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    sel = make_selector("bayesian_router", 3, 2, prior=mu0)
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
    sel.update(np.zeros(20, dtype=int), x, r)
    lam = 2.0 * np.eye(3) + x.T @ x / 0.25
    b = 2.0 * mu0[0] + x.T @ r / 0.25
    np.testing.assert_allclose(sel.Sigma[0], np.linalg.inv(lam), atol=1e-10)
    np.testing.assert_allclose(sel.mu[0], np.linalg.solve(lam, b), atol=1e-10)
    np.testing.assert_allclose(sel.mu[1], mu0[1])  # arm 1 untouched


def test_draws_have_the_posterior_variance():
    sel = make_selector("thompson", 1, 2, prior_strength=4.0, exploration=1.0, seed=3)
    x = np.tile([[1.0, 1.0]], (20000, 1))
    draws = sel.scores(x)[:, 0]
    assert draws.mean() == pytest.approx(0.0, abs=0.02)
    assert draws.var() == pytest.approx(2.0 / 4.0, rel=0.05)  # x^T (I/4) x


def test_prior_file_round_trip_and_mismatch(tmp_path):
    mu0 = np.arange(6, dtype=float).reshape(3, 2)
    save_state(tmp_path / "prior.safetensors", {"prior_mean": mu0})
    sel = make_selector("thompson", 3, 2, prior=str(tmp_path / "prior.safetensors"))
    np.testing.assert_allclose(sel.mu, mu0)
    with pytest.raises(ValueError, match=r"shape \(3, 2\), but this selector has K=4 arms and d=2"):
        make_selector("thompson", 4, 2, prior=str(tmp_path / "prior.safetensors"))


@pytest.mark.parametrize("bad, match", [
    ({"noise": 0}, "noise must be > 0"),
    ({"prior_strength": -1}, "prior_strength must be > 0"),
    ({"exploration": -0.1}, "exploration must be >= 0"),
])
def test_bad_configs(bad, match):
    with pytest.raises(ValueError, match=match):
        make_selector("thompson", 2, 2, **bad)
