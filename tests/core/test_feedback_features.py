"""Feedback normalisers and context features."""
import numpy as np
import pytest
import torch

from laser_plugin.core.features import ContextFeaturizer, pool_hidden_states
from laser_plugin.core.feedback import make_feedback


def test_quantile_excludes_the_current_value_and_guards_degenerate_history():
    q = make_feedback("quantile")
    assert list(q([5.0])) == [0.5]  # no history yet
    assert list(q([5.0])) == [0.5]  # history [5]: too short
    assert list(q([1.0])) == [0.5]  # history [5, 5]: q20 == q80 -> guarded
    # history [5, 5, 1]: q20 = 2.6, q80 = 5 -> (3.8 - 2.6) / 2.4 = 0.5; 10 clips to 1, 0 to 0
    np.testing.assert_allclose(q([3.8, 10.0, 0.0]), [0.5, 1.0, 0.0])


def test_baseline_and_zscore():
    b = make_feedback("baseline")
    np.testing.assert_allclose(b([1.0, 3.0]), [-1.0, 1.0])
    np.testing.assert_allclose(b([4.0]), [2.0])  # single value vs the running mean 2
    z = make_feedback("zscore")
    np.testing.assert_allclose(z([1.0, 3.0], arms=np.array([0, 0])), [0.0, 0.0])  # < 2 past values
    np.testing.assert_allclose(z([4.0], arms=np.array([0])), [(4 - 2) / np.sqrt(2)])
    np.testing.assert_allclose(z([4.0], arms=np.array([1])), [0.0])  # arm 1 has no history


def test_chain_applies_left_to_right_and_round_trips_state():
    chain = make_feedback("baseline+quantile")
    for v in ([1.0, 2.0], [3.0, 0.0], [5.0, 1.0]):
        chain(v)
    clone = make_feedback("baseline+quantile")
    clone.load_state_dict(chain.state_dict())
    np.testing.assert_allclose(clone([2.0, 7.0]), chain([2.0, 7.0]))
    with pytest.raises(ValueError, match="feedback state has parts"):
        make_feedback("quantile").load_state_dict(chain.state_dict())


def test_unknown_feedback_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: quantile, baseline, zscore, none"):
        make_feedback("quantile+median")


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
