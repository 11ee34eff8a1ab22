"""Feedback signals for PPO/GRPO on hand-made examples."""
import numpy as np
import pytest

from laser_plugin.signals import group_informativeness, loss_signal, verifier_agreement


def test_group_informativeness_counts_groups_with_spread():
    rewards = np.array([1.0, 1.0, 0.0, 1.0, 0.5, 0.5])
    groups = np.array([0, 0, 1, 1, 2, 2])
    assert group_informativeness(rewards, groups) == pytest.approx(1 / 3)
    assert group_informativeness(np.array([0.0, 1.0]), None) == 1.0
    assert group_informativeness(np.array([3.0]), np.array([0])) == 0.0  # singleton groups carry no signal


def test_verifier_agreement_on_hand_made_pairs():
    verifier = np.array([1.0, 0.0, 0.0, 1.0])
    groups = np.array([0, 0, 1, 1])
    assert verifier_agreement(np.array([2.0, 1.0, 0.0, 5.0]), verifier, groups) == 1.0
    assert verifier_agreement(np.array([1.0, 2.0, 0.0, 5.0]), verifier, groups) == 0.5
    assert verifier_agreement(np.array([1.0, 1.0, 5.0, 0.0]), verifier, groups) == 0.0  # ties disagree
    assert verifier_agreement(np.array([1.0, 2.0]), np.array([1.0, 1.0]), None) == 0.5  # nothing to judge


def test_loss_signal_refuses_non_finite():
    assert loss_signal(0.25) == -0.25
    with pytest.raises(ValueError, match="non-finite"):
        loss_signal(float("nan"))
