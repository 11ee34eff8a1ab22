"""LinUCB against hand computations and explicit inverses."""
import numpy as np
import pytest

from laser_plugin import make_selector


def test_scores_and_update_match_hand_computation():
    sel = make_selector("laser", num_arms=2, dim=2, alpha=0.5, ridge=1.0)
    x = np.array([[1.0, 0.0]])
    # A = I, b = 0: score = 0 + 0.5 * sqrt(x^T x) = 0.5 for both arms
    np.testing.assert_allclose(sel.scores(x), [[0.5, 0.5]])
    sel.update([0], x, [1.0])
    # A_0 = [[2, 0], [0, 1]], b_0 = [1, 0]: theta_0 = [0.5, 0]; x^T A^-1 x = 0.5
    np.testing.assert_allclose(sel.theta[0], [0.5, 0.0])
    np.testing.assert_allclose(sel.model.inverse(0), [[0.5, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(sel.scores(x), [[0.5 + 0.5 * np.sqrt(0.5), 0.5]])
    y = np.array([[1.0, 1.0]])
    sel.update([0], y, [0.0])
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, 0.0])
    inv = np.linalg.inv(A)  # [[0.4, -0.2], [-0.2, 0.6]]
    np.testing.assert_allclose(sel.model.inverse(0), [[0.4, -0.2], [-0.2, 0.6]], atol=1e-12)
    np.testing.assert_allclose(sel.theta[0], [0.4, -0.2], atol=1e-12)
    np.testing.assert_allclose(sel.model.gram(0), A, atol=1e-12)
    z = np.array([0.3, -0.7])
    expected = z @ inv @ b + 0.5 * np.sqrt(z @ inv @ z)
    assert sel.scores(z)[0, 0] == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(sel.scores(z)[0, 1], 0.5 * np.sqrt(z @ z))  # arm 1 untouched


def test_selects_the_arm_with_the_highest_ucb():
    sel = make_selector("laser", num_arms=3, dim=2, alpha=0.0)
    x = np.array([[1.0, 0.0]])
    sel.update([2, 2], np.repeat(x, 2, axis=0), [1.0, 1.0])
    assert sel.select(x)[0] == 2
    assert sel.select(x, exclude=[2])[0] in (0, 1)
    assert sel.select(x[0]).shape == (1,)  # a 1-D context is one row


def test_batched_update_woodbury_matches_explicit_solution():
    rng = np.random.default_rng(4)
    d, k = 12, 3
    sel = make_selector("laser", num_arms=k, dim=d, alpha=0.3, ridge=2.0)
    x, r, arms = rng.standard_normal((40, d)), rng.random(40), rng.integers(0, k, 40)
    for lo in range(0, 40, 10):  # 10 rows per call: per arm a Woodbury update of 2..5 rows
        sel.update(arms[lo:lo + 10], x[lo:lo + 10], r[lo:lo + 10])
    z = rng.standard_normal((5, d))
    for a in range(k):
        rows = arms == a
        A = 2.0 * np.eye(d) + x[rows].T @ x[rows]
        inv = np.linalg.inv(A)
        np.testing.assert_allclose(sel.model.inverse(a), inv, atol=1e-12)
        np.testing.assert_array_equal(sel.model.inverse(a), sel.model.inverse(a).T)  # exactly symmetric
        theta = inv @ (x[rows].T @ r[rows])
        expected = z @ theta + 0.3 * np.sqrt(np.einsum("nd,de,ne->n", z, inv, z))
        np.testing.assert_allclose(sel.scores(z)[:, a], expected, atol=1e-12)


def test_update_reuses_the_selection_products_exactly_like_a_fresh_solve():
    rng = np.random.default_rng(5)
    a, b = (make_selector("laser", 3, 200, alpha=0.2) for _ in range(2))
    for _ in range(5):
        x = rng.standard_normal((7, 200))
        arms = a.select(x)  # caches x^T S_k
        r = rng.random(7)
        a.update(arms[::-1], x[::-1], r[::-1])  # rows in another order still hit the cache
        b.update(arms[::-1], x[::-1], r[::-1])  # no selection: products computed afresh
    for k in range(3):
        np.testing.assert_allclose(a.model.inverse(k), b.model.inverse(k), rtol=1e-12, atol=1e-15)


def test_sherman_morrison_drift_after_1e5_updates_vs_exact_solve():
    d, n, rng = 8, 100_000, np.random.default_rng(0)
    sel = make_selector("laser", num_arms=1, dim=d, refactor_every=10**9, window=0)  # never refactor: pure SM
    x = rng.standard_normal((n, d)) / np.sqrt(d)
    r = rng.random(n)
    zero = np.zeros(1, dtype=np.int64)
    for i in range(n):  # one row per call: 1e5 rank-1 updates
        sel.update(zero, x[i:i + 1], r[i:i + 1])
    A = np.eye(d) + x.T @ x
    rel = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)  # noqa: E731
    assert rel(sel.model.inverse(0), np.linalg.inv(A)) <= 1e-8
    assert rel(sel.theta[0], np.linalg.solve(A, x.T @ r)) <= 1e-8
    np.testing.assert_array_equal(sel.model.inverse(0), sel.model.inverse(0).T)  # symmetric, exactly
    assert sel.model.counts[0] == n and sel.model._since_refactor[0] == n


def test_buffered_rows_fold_into_the_exact_gram_matrix():
    rng = np.random.default_rng(3)
    sel = make_selector("laser", num_arms=2, dim=3, refactor_every=10**6)
    x = rng.standard_normal((600, 3))
    for i in range(600):  # 300 rows per arm: the row buffer (256 rows at d < 256) is folded once per arm
        sel.update([i % 2], x[i:i + 1], [0.5])
    for a in range(2):
        np.testing.assert_allclose(sel.model.gram(a), np.eye(3) + x[a::2].T @ x[a::2], rtol=1e-12)
        assert len(sel.model._pending[a]) == 300 - 256


def test_periodic_refactorisation_is_exact():
    rng = np.random.default_rng(2)
    sel = make_selector("laser", num_arms=1, dim=4, refactor_every=3)
    x = rng.standard_normal((7, 4))
    for i in range(7):
        sel.update([0], x[i:i + 1], [1.0])
    assert sel.model._since_refactor[0] == 1  # refactorised after updates 3 and 6
    A = np.eye(4) + x.T @ x
    np.testing.assert_allclose(sel.model.inverse(0), np.linalg.inv(A), atol=1e-12)
    np.testing.assert_allclose(sel.theta[0], np.linalg.solve(A, x.sum(0)), atol=1e-12)


def test_discount_decays_the_data_toward_the_ridge_per_decision():
    # The maths changed on purpose (issue 16): the DATA part decays, A <- g^m (A - lam I) + lam I per call of
    # m rows, and the ridge stays lam I (the old engine decayed the whole A and restored the ridge below a floor).
    g = 0.5
    sel = make_selector("laser", num_arms=2, dim=2, discount=g, alpha=1.0)
    x0, x1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    sel.update([0], x0[None], [1.0])  # round 1: nothing to decay yet; A_0 = I + x0 x0^T, A_1 = I
    np.testing.assert_allclose(sel.model.gram(0), [[2.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(sel.model.inverse(1), np.eye(2))  # unplayed arm: exactly the prior, never wider
    np.testing.assert_allclose(sel.theta[0], [0.5, 0.0])
    sel.update([1], x1[None], [2.0])  # round 2: A_0 = 0.5 (A_0 - I) + I, b_0 = 0.5 x0; A_1 = I + x1 x1^T
    np.testing.assert_allclose(sel.model.gram(0), [[1.5, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(sel.model.gram(1), [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(sel.theta[0], [0.5 / 1.5, 0.0])
    np.testing.assert_allclose(sel.theta[1], [0.0, 1.0])  # b_1 = 2 x1, A_1[1, 1] = 2
    sel.update([0, 0], np.stack([x1, x1]), [0.0, 0.0])  # two rows = two decisions: the data decays by g^2
    np.testing.assert_allclose(sel.model.gram(0), [[1.125, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(sel.model.gram(1), [[1.0, 0.0], [0.0, 1.25]])
    np.testing.assert_allclose(sel.model.inverse(1), np.linalg.inv([[1.0, 0.0], [0.0, 1.25]]), atol=1e-15)
    np.testing.assert_allclose(sel.theta[0], [0.125 / 1.125, 0.0])


def test_no_ridge_sawtooth_under_discounting():
    """The effective ridge (A minus the discounted data) stays lam I at every step: the unplayed arm sits
    exactly at the prior and the played arm's A^-1 is the exact inverse of the explicit discounted sum."""
    rng = np.random.default_rng(9)
    d, g, lam = 3, 0.99, 2.0
    sel = make_selector("laser", num_arms=2, dim=d, discount=g, ridge=lam)
    data = np.zeros((d, d))
    for t in range(600):  # the old engine refactorised at ridge 0.1 lam: every ~230 rounds
        x = rng.standard_normal((1, d))
        sel.update([0], x, [1.0])
        data = g * data + x.T @ x
        np.testing.assert_allclose(sel.model.gram(0) - data, lam * np.eye(d), atol=1e-10)
        np.testing.assert_allclose(sel.model.inverse(1), np.eye(d) / lam, rtol=1e-14)
        if t % 50 == 0:
            np.testing.assert_allclose(sel.model.inverse(0), np.linalg.inv(lam * np.eye(d) + data), rtol=1e-9)
    assert np.linalg.eigvalsh(sel.model.gram(0)).min() >= lam


def test_window_keeps_the_last_rows_of_all_arms_exactly():
    rng = np.random.default_rng(10)
    d, k, w = 5, 3, 9
    sel = make_selector("laser", num_arms=k, dim=d, window=w, ridge=0.5, alpha=0.3, refactor_every=10**6)
    x, r, arms = rng.standard_normal((60, d)), rng.random(60), rng.integers(0, k, 60)
    lo = 0
    for m in (1, 3, 2, 1, 4, 1, 1, 5, 2, 1, 3, 6, 1, 1, 2, 4, 1, 1, 3, 2, 1, 1, 1, 1, 2, 1, 4, 2):
        sel.update(arms[lo:lo + m], x[lo:lo + m], r[lo:lo + m])
        lo += m
        keep = np.arange(max(0, lo - w), lo)  # the window holds the last w decisions, whichever arm
        for a in range(k):
            rows = keep[arms[keep] == a]
            A = 0.5 * np.eye(d) + x[rows].T @ x[rows]
            np.testing.assert_allclose(sel.model.inverse(a), np.linalg.inv(A), atol=1e-12)
            np.testing.assert_allclose(sel.theta[a], np.linalg.solve(A, x[rows].T @ r[rows]), atol=1e-12)
            np.testing.assert_array_equal(sel.model.inverse(a), sel.model.inverse(a).T)
    assert len(sel.model.recent) == w


def test_forgetting_options_resolve_and_conflict():
    from laser_plugin.core.linucb import WINDOW

    assert make_selector("laser", 2, 3).config.window == WINDOW
    assert make_selector("laser", 2, 3, discount=0.99).config.window == 0  # a discount alone turns the window off
    with pytest.raises(ValueError, match="choose one way to forget"):
        make_selector("laser", 2, 3, discount=0.99, window=10)


@pytest.mark.parametrize("bad, match", [
    ({"alpha": -1}, "alpha must be >= 0"),
    ({"ridge": 0}, "ridge must be > 0"),
    ({"discount": 1.5}, r"discount must be in \(0, 1\]"),
    ({"discount": 0}, r"discount must be in \(0, 1\]"),
    ({"ridge_floor": 1.0}, r"ridge_floor must be in \(0, 1\)"),
    ({"refactor_every": 0}, "refactor_every must be >= 1"),
    ({"window": -1}, r"window must be >= 0"),
    ({"alpha": "lots"}, "cannot read 'lots' as float"),
    ({"beta": 1}, r"no option\(s\) \['beta'\]; valid options: alpha, discount, refactor_every, ridge, ridge_floor"),
])
def test_bad_configs(bad, match):
    with pytest.raises(ValueError, match=match):
        make_selector("laser", 2, 3, **bad)


def test_bad_inputs():
    sel = make_selector("laser", 2, 3)
    with pytest.raises(ValueError, match=r"contexts must be \[N, 3\] \(or \[3\]\), got \(2, 4\)"):
        sel.select(np.ones((2, 4)))
    with pytest.raises(ValueError, match="contexts contain NaN or inf"):
        sel.select(np.array([[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match=r"arms must be in \[0, 2\)"):
        sel.update([2], np.ones((1, 3)), [0.0])
    with pytest.raises(ValueError, match="1 arms, 1 contexts, 2 rewards"):
        sel.update([0], np.ones((1, 3)), [0.0, 1.0])
    with pytest.raises(ValueError, match="rewards must be finite"):
        sel.update([0], np.ones((1, 3)), [np.inf])
    with pytest.raises(ValueError, match=r"excluded arm 7 is not in \[0, 2\)"):
        sel.select(np.ones(3), exclude=[7])


def test_tiled_gram_downdate_is_exactly_symmetric_across_tiles():
    from laser_plugin.core.linalg import gram, subtract_gram

    rng = np.random.default_rng(6)
    g = rng.standard_normal((5, 600))
    s = rng.standard_normal((600, 600))
    s = s + s.T
    expected = s - g.T @ g
    subtract_gram(s, g, tile=256)  # 3 x 3 tiles, the last one ragged
    np.testing.assert_array_equal(s, s.T)
    np.testing.assert_allclose(s, expected, rtol=1e-12, atol=1e-12)
    view = np.zeros((600, 3, 600))[:, 1, :]  # a strided [d, d] view, as the engine stores S_k
    subtract_gram(view, g)
    np.testing.assert_allclose(-view, gram(g, 600), rtol=1e-12, atol=1e-12)


def test_deferred_downdates_are_applied_in_one_pass_and_stay_exact():
    rng = np.random.default_rng(8)
    d = 40
    sel = make_selector("laser", num_arms=1, dim=d, refactor_every=10**6)
    x = rng.standard_normal((75, d))
    for i in range(75):  # 32 deferred columns; the 33rd triggers a pass over all 33; again; 9 left
        sel.update([0], x[i:i + 1], [float(i % 3)])
    assert sel.model._nv[0] == 75 - 2 * 33
    A = np.eye(d) + x.T @ x
    np.testing.assert_allclose(sel.model.inverse(0), np.linalg.inv(A), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sel.theta[0], np.linalg.solve(A, x.T @ (np.arange(75) % 3)), rtol=1e-10)
    np.testing.assert_array_equal(sel.model._S[0], sel.model._S[0].T)
    z = rng.standard_normal((3, d))
    np.testing.assert_allclose(sel.scores(z)[:, 0], z @ sel.theta[0] + sel.config.alpha
                               * np.sqrt(np.einsum("nd,de,ne->n", z, np.linalg.inv(A), z)), rtol=1e-10)


def test_window_with_selections_reuses_products_and_stays_exact():
    """Rows leaving the window wait as deferred columns of sign -1 (no write pass over S_k), and adds reuse
    select()'s products of the S_k part while only deferred columns changed: same as the explicit window."""
    rng = np.random.default_rng(13)
    d, k, w = 6, 2, 10
    sel = make_selector("laser", num_arms=k, dim=d, window=w, refactor_every=10**6)
    xs, rs, arms = [], [], []
    for _ in range(90):  # > 32 deferred columns per arm: flushes with mixed signs
        x = rng.standard_normal((1, d))
        a = sel.select(x)
        r = rng.random(1)
        sel.update(a, x, r)
        xs.append(x[0]), rs.append(r[0]), arms.append(a[0])
    x, r, arms = np.array(xs[-w:]), np.array(rs[-w:]), np.array(arms[-w:])
    for a in range(k):
        A = np.eye(d) + x[arms == a].T @ x[arms == a]
        np.testing.assert_allclose(sel.model.inverse(a), np.linalg.inv(A), atol=1e-11)
        np.testing.assert_allclose(sel.theta[a], np.linalg.solve(A, x[arms == a].T @ r[arms == a]), atol=1e-11)
        np.testing.assert_array_equal(sel.model._S[a], sel.model._S[a].T)
    assert (sel.model._sv[:, :sel.model._nv.max()] == -1).any()  # leaving rows wait as deferred columns
