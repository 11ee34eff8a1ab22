"""Decision granularity: per scoring call or per prompt group (a row without a group id is its own), in one batched call."""
import numpy as np
import pytest

from laser_plugin import make_selector
from laser_plugin.core.granularity import decision_units, mean_context, select_units, unit_rewards

CTX = np.array([[1.0, 0.0, 1.0],
                [0.0, 1.0, 1.0],
                [1.0, 0.0, 1.0],
                [0.6, 0.8, 1.0]])


def test_units_for_each_granularity():
    assert list(decision_units(4, "batch")) == [0, 0, 0, 0]
    assert list(decision_units(4, "group")) == [0, 1, 2, 3]  # no group ids: every row its own group
    assert list(decision_units(4, "group", group_ids=["b", "a", "b", "c"])) == [0, 1, 0, 2]  # first appearance
    with pytest.raises(ValueError, match="granularity must be one of"):
        decision_units(4, "token")
    with pytest.raises(ValueError, match="3 group ids for 4 rows"):
        decision_units(4, "group", group_ids=[0, 0, 1])


def test_mean_context_renormalises_features_and_keeps_the_bias():
    np.testing.assert_allclose(mean_context(CTX[:2]), [[np.sqrt(0.5), np.sqrt(0.5), 1.0]])
    np.testing.assert_allclose(mean_context(CTX[:2], bias=False), [[0.5, 0.5, 1.0]])


def test_select_units_one_decision_per_unit_in_one_call():
    sel = make_selector("laser", 2, 3, alpha=0.0)
    sel.update([1], CTX[:1], [1.0])  # arm 1 is good on [1, 0] contexts
    arms, ctx, units = select_units(sel, CTX, "group", group_ids=[0, 1, 0, 2])
    assert ctx.shape == (3, 3) and list(units) == [0, 1, 0, 2]
    assert arms[0] == arms[2] == 1  # one group, one arm
    arms_b, ctx_b, _ = select_units(sel, CTX, "batch")
    assert ctx_b.shape == (1, 3) and len(set(arms_b)) == 1
    np.testing.assert_allclose(unit_rewards([1.0, 2.0, 3.0, 4.0], units), [2.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="3 rewards for 4 rows"):
        unit_rewards([1.0, 2.0, 3.0], units)
