"""Feedback normalisers and context features."""
import numpy as np
import pytest
import torch

from laser_plugin.core.features import ContextFeaturizer, pool_hidden_states
from laser_plugin.core.signal_norm import QuantileRescale, RunningZScore, make_signal_norm


def test_quantile_excludes_the_current_value_and_guards_degenerate_history():
    q = make_signal_norm("quantile")
    assert list(q([5.0])) == [0.5]  # no history yet
    assert list(q([5.0])) == [0.5]  # history [5]: too short
    # history [5, 5]: q20 == q80 == 5 -> no division by zero: a step at 5
    np.testing.assert_array_equal(q([1.0, 5.0, 9.0]), [0.0, 0.5, 1.0])
    # history [5, 5, 1, 5, 9]: q20 = 4.2, q80 = 5.8 -> (5 - 4.2) / 1.6 = 0.5; 10 clips to 1, 0 to 0
    np.testing.assert_allclose(q([5.0, 10.0, 0.0]), [0.5, 1.0, 0.0])
    # the batch above is excluded from its own quantiles: history now has 8 values
    assert len(q.state_dict()["0_quantile"]["history"]) == 8


def test_quantile_window_and_bad_options():
    q = QuantileRescale(window=3)
    for v in (100.0, 0.0, 1.0, 2.0):
        q([v])
    # only the last 3 values (0, 1, 2) count: q20 = 0.4, q80 = 1.6
    np.testing.assert_allclose(q([1.0]), [0.5])
    with pytest.raises(ValueError, match=r"need 0 <= low < high <= 1, got 0.8, 0.2"):
        QuantileRescale(low=0.8, high=0.2)
    with pytest.raises(ValueError, match="window must be >= 0"):
        QuantileRescale(window=-1)
    with pytest.raises(ValueError, match="min_history >= 1"):
        QuantileRescale(min_history=0)
    with pytest.raises(ValueError, match="zscore: max_arms must be >= 1"):
        RunningZScore(max_arms=0)
    with pytest.raises(ValueError, match="rewards must be finite"):
        q([np.nan])


def test_baseline_and_zscore():
    b = make_signal_norm("baseline")
    np.testing.assert_allclose(b([1.0, 3.0]), [-1.0, 1.0])
    np.testing.assert_allclose(b([4.0]), [2.0])  # single value vs the running mean 2
    z = make_signal_norm("zscore")
    np.testing.assert_allclose(z([1.0, 3.0], arms=np.array([0, 0])), [0.0, 0.0])  # < 2 past values
    np.testing.assert_allclose(z([4.0], arms=np.array([0])), [(4 - 2) / np.sqrt(2)])
    np.testing.assert_allclose(z([4.0], arms=np.array([1])), [0.0])  # arm 1 has no history
    pooled = RunningZScore(per_arm=False)
    pooled([1.0, 3.0], arms=np.array([0, 1]))
    np.testing.assert_allclose(pooled([4.0], arms=np.array([1])), [(4 - 2) / np.sqrt(2)])
    with pytest.raises(ValueError, match=r"zscore: arms must be in \[0, 1024\)"):
        z([1.0], arms=np.array([-1]))
    with pytest.raises(ValueError, match="zscore: 2 arms for 1 rewards"):
        z([1.0], arms=np.array([0, 1]))


def test_chain_applies_left_to_right_and_round_trips_state():
    chain = make_signal_norm("baseline+quantile")
    for v in ([1.0, 2.0], [3.0, 0.0], [5.0, 1.0]):
        chain(v)
    clone = make_signal_norm("baseline+quantile")
    clone.load_state_dict(chain.state_dict())
    np.testing.assert_allclose(clone([2.0, 7.0]), chain([2.0, 7.0]))
    with pytest.raises(ValueError, match="signal_norm state has parts"):
        make_signal_norm("quantile").load_state_dict(chain.state_dict())


def test_unknown_feedback_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: quantile, baseline, zscore, none"):
        make_signal_norm("quantile+median")


def test_pooling_is_mask_aware_for_left_and_right_padding():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    right = torch.tensor([[1, 1, 0], [1, 1, 1]])
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])
    torch.testing.assert_close(pool_hidden_states(hidden, right, "mean")[0], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(pool_hidden_states(hidden, right, "last")[0], hidden[0, 1])
    torch.testing.assert_close(pool_hidden_states(hidden, left, "last")[0], hidden[0, 2])
    torch.testing.assert_close(pool_hidden_states(hidden, left, "mean")[0], torch.tensor([3.0, 4.0]))


def test_featurizer_projects_normalises_and_adds_bias_deterministically():
    hidden = torch.randn(4, 5, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(4, 5, dtype=torch.long)
    f = ContextFeaturizer(32, 9, seed=7)
    x = f(hidden, mask)
    assert x.shape == (4, 9) and x.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(x[:, :-1], axis=1), 1.0)
    np.testing.assert_allclose(x[:, -1], 1.0)
    np.testing.assert_array_equal(x, ContextFeaturizer(32, 9, seed=7)(hidden, mask))
    batch = f.batch_context(x)
    assert batch.shape == (1, 9) and np.linalg.norm(batch[0, :-1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="context features differ in"):
        f.check_state(ContextFeaturizer(32, 9, seed=8).state_dict())


def test_featurizer_hand_example_without_projection():
    # in_dim == dim - 1: no projection; pooled [3, 4] -> [0.6, 0.8] + bias
    f = ContextFeaturizer(2, 3, bias=True, pooling="last")
    hidden = torch.tensor([[[9.0, 9.0], [3.0, 4.0], [0.0, 0.0]]])
    x = f(hidden, torch.tensor([[1, 1, 0]]))
    np.testing.assert_allclose(x, [[0.6, 0.8, 1.0]])
    both = np.array([[0.6, 0.8, 1.0], [0.8, 0.6, 1.0]])
    np.testing.assert_allclose(f.batch_context(both), [[np.sqrt(0.5), np.sqrt(0.5), 1.0]])
    nobias = ContextFeaturizer(2, 2, bias=False)
    np.testing.assert_allclose(nobias.from_pooled(np.array([[0.0, 2.0]])), [[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"rows must be \[n, 3\]"):
        f.batch_context(np.ones((2, 2)))


def test_projection_is_gaussian_over_sqrt_dim_and_seeded():
    f = ContextFeaturizer(4096, 257, seed=1)
    assert f.projection.shape == (4096, 256)
    assert f.projection.std() == pytest.approx(1 / 16, rel=0.01)
    assert not np.array_equal(f.projection, ContextFeaturizer(4096, 257, seed=2).projection)


def test_pooling_mean_is_accurate_in_bf16():
    hidden = torch.full((1, 4096, 2), 1.001, dtype=torch.bfloat16)
    pooled = pool_hidden_states(hidden, torch.ones(1, 4096, dtype=torch.long))
    torch.testing.assert_close(pooled, torch.full((1, 2), float(hidden[0, 0, 0])))


@pytest.mark.parametrize("kwargs, match", [
    ({"in_dim": 8, "dim": 1}, "context dim must be >= 2"),
    ({"in_dim": 0, "dim": 4}, "in_dim must be >= 1"),
    ({"in_dim": 8, "dim": 4, "pooling": "max"}, "pooling must be 'mean' or 'last', got 'max'"),
])
def test_featurizer_bad_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ContextFeaturizer(**kwargs)


def test_pooling_bad_shapes():
    with pytest.raises(ValueError, match=r"hidden \[B, T, H\] and mask \[B, T\] expected"):
        pool_hidden_states(torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="pooling must be 'mean' or 'last'"):
        pool_hidden_states(torch.zeros(2, 3, 4), torch.ones(2, 3), mode="first")
