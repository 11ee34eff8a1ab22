"""Whose scores train when the bandit explores (core.exploration): hand-computed cases."""
import numpy as np
import pytest

from laser_plugin.core.exploration import check_explore_by, training_arms


def test_the_best_estimate_trains_unless_the_pick_ties_for_best():
    est = np.array([[0.1, 0.3, 0.2],    # pick 2 (an exploration bonus outranked arm 1): arm 1 trains
                    [0.1, 0.3, 0.2],    # pick 1 is the best estimate: it trains
                    [0.0, 0.0, 0.0],    # no evidence yet, every arm ties: the pick trains
                    [0.5, 0.5, -0.1]])  # pick 1 ties for best: it trains (no extra scoring)
    np.testing.assert_array_equal(training_arms(est, [2, 1, 2, 1]), [1, 1, 2, 1])


def test_excluded_arms_never_train_and_no_estimates_keep_the_pick():
    est = np.array([[0.1, 0.3, 0.2]])
    np.testing.assert_array_equal(training_arms(est, [0], excluded={1}), [2])  # arm 1 quarantined
    np.testing.assert_array_equal(training_arms(None, [0, 2]), [0, 2])  # random, fixed, ...: the pick
    with pytest.raises(ValueError, match="estimates must be"):
        training_arms(np.zeros((2, 3)), [0])


def test_modes_are_checked():
    for mode in ("training", "scoring", "none"):
        check_explore_by(mode)
    with pytest.raises(ValueError, match="explore_by must be one of"):
        check_explore_by("greedy")


def test_ridge_selectors_expose_their_estimates_and_baselines_none():
    from laser_plugin import make_selector

    x = np.array([[1.0, 0.0, 1.0]])
    for name in ("laser", "thompson"):
        sel = make_selector(name, num_arms=2, dim=3, seed=0)
        np.testing.assert_array_equal(sel.expected_scores(x), [[0.0, 0.0]])  # prior mean 0
        sel.update([1], x, [0.5])
        est = sel.expected_scores(x)
        assert est[0, 1] > 0 and est[0, 0] == 0.0
    assert make_selector("random", num_arms=2, dim=3).expected_scores(x) is None


def test_above_chance_is_a_positive_estimate():
    from laser_plugin.core.exploration import above_chance

    est = np.array([[0.0, 0.0], [-0.1, 0.2], [0.3, -0.2]])  # no evidence, arm 1 believed, arm 0 believed
    np.testing.assert_array_equal(above_chance(est, [1, 1, 1]), [False, True, False])
    np.testing.assert_array_equal(above_chance(None, [0, 1]), [True, True])  # no estimates: never abstains


def test_lower_bounds_mirror_the_selectors_own_exploration_width():
    from laser_plugin import make_selector

    x = np.array([[1.0, 0.0]])
    sel = make_selector("laser", num_arms=2, dim=2, alpha=0.5, ridge=1.0)
    sel.update([0], x, [0.4])
    # arm 0: A = diag(2, 1), b = (0.4, 0), theta = (0.2, 0): mean 0.2, x^T A^-1 x = 1/2
    # -> 0.2 - 0.5 sqrt(1/2); arm 1 (no data): 0 - 0.5 sqrt(1)
    np.testing.assert_allclose(sel.lower_bounds(x), [[0.2 - 0.5 * np.sqrt(0.5), -0.5]])
    ts = make_selector("thompson", num_arms=2, dim=2, seed=0)
    mean, var = ts.model.project(x)
    np.testing.assert_allclose(ts.lower_bounds(x), mean - ts.config.exploration * np.sqrt(var))
    assert make_selector("random", num_arms=2, dim=2).lower_bounds(x) is None  # no estimates at all
