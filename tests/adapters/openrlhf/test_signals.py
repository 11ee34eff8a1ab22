"""Feedback signals for PPO/GRPO on hand-made examples."""
import numpy as np
import pytest

from laser_plugin.signals import (
    consensus_agreement, group_informativeness, loss_signal, mean_by_decision, probe_value, surrogate_gain,
    verifier_agreement,
)


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


def test_surrogate_gain_is_the_drop_of_each_rows_clipped_loss():
    old = np.zeros((3, 2))
    new = np.log([[1.1, 1.5], [0.5, 0.5], [2.0, 1.0]])
    adv = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 7.0]])
    mask = np.array([[1, 1], [1, 1], [1, 0]])
    got = surrogate_gain(old, new, adv, mask, clip_eps=(0.2, 0.3))
    # row 0: (1.1 - 1) and min(1.5, 1.3) - 1 -> mean 0.2; row 1: rho 0.5 < 0.8, A < 0: min(-0.5, -0.8) + 1
    # = 0.2 per token; row 2: only the first token counts: min(2.0, 1.3) - 1
    assert got == pytest.approx([0.2, 0.2, 0.3])
    assert surrogate_gain(old, old, adv, mask).tolist() == [0.0, 0.0, 0.0]  # no update, no gain
    with pytest.raises(ValueError, match="shapes differ"):
        surrogate_gain(old, new[:, :1], adv, mask)
    ids, means = mean_by_decision(np.array([0.2, 0.4, 1.0]), np.array([7, 7, 3]))
    assert ids.tolist() == [3, 7] and means == pytest.approx([1.0, 0.3])


def test_probe_value_is_the_pairs_bradley_terry_log_likelihood():
    # beta 1, margins 0 and log 3: log sigmoid(0) = -log 2, log sigmoid(log 3) = log(3/4)
    got = probe_value(np.array([-2.0, np.log(3.0) - 1.0]), np.array([-2.0, -1.0]), beta=1.0)
    assert got == pytest.approx((-np.log(2.0) + np.log(0.75)) / 2)
    assert probe_value(np.array([0.0]), np.array([0.0])) == pytest.approx(-np.log(2.0))  # at the reference
    assert probe_value(np.array([10 * np.log(3.0)]), np.array([0.0])) == pytest.approx(np.log(0.75))  # beta 0.1
    with pytest.raises(ValueError, match="no pairs"):
        probe_value(np.array([]), np.array([]))


def test_consensus_agreement_pays_the_majority_and_not_a_lone_dissenter():
    up, down = [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]
    # arms 0-2 order the group up, arm 3 down, arm 4 has no opinion (all ties)
    scores = np.array([up, up, up, down, [5.0, 5.0, 5.0]])
    got = consensus_agreement(scores, np.zeros(3))
    # arm 0's consensus (arms 1, 2, 3; arm 4 uninformed): ranks [1/3, 1/2, 2/3] -> all 3 pairs agree
    assert got[:3].tolist() == [1.0, 1.0, 1.0]
    assert got[3] == 0.0  # the consensus of 0-2 orders every pair the other way
    assert got[4] == 0.5  # ties on every strict consensus pair: half credit


def test_consensus_agreement_by_hand_with_groups_ties_and_missing_arms():
    groups = np.array([0, 0, 1, 1])
    scores = np.array([[1.0, 2.0, 1.0, 2.0],
                       [1.0, 2.0, 2.0, 1.0],
                       [np.nan] * 4])  # this arm did not score (failed): no value, not part of any consensus
    got = consensus_agreement(scores, groups)
    # two arms: each one's consensus is the other; group 0 agrees, group 1 disagrees -> 1/2
    assert got[0] == 0.5 and got[1] == 0.5 and np.isnan(got[2])
    # an arm alone has no consensus to compare with
    assert consensus_agreement(np.array([[1.0, 2.0]]), None).tolist() == [0.5]


def test_consensus_agreement_trims_an_arm_that_contradicts_the_others_by_hand():
    # one group of 3 responses; A and D rank them up, R exactly reversed, N is a fourth opinion
    a, d, r, n = [1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [3.0, 2.0, 1.0], [2.0, 3.0, 1.0]
    scores, groups = np.array([a, d, r, n]), np.zeros(3)
    # Plain leave-one-out means (ranks A = D = [0, 1/2, 1], R = [1, 1/2, 0], N = [1/2, 1, 0]):
    #   A's consensus (D, R, N) = [1/2, 2/3, 1/3]: of pairs (0,1) (0,2) (1,2) A agrees on (0,1) only -> 1/3
    #   N's consensus (A, D, R) = [1/3, 1/2, 2/3]: N agrees on (0,1) only -> 1/3
    #   R's consensus (A, D, N) = [1/6, 2/3, 2/3]: strict pairs (0,1) (0,2), R reverses both -> 0
    # R cancels D in A's mean, so N (1/3) looks as good as A and D.
    np.testing.assert_allclose(consensus_agreement(scores, groups, trim=False), [1 / 3, 1 / 3, 0, 1 / 3])
    # Trimmed: R (0, lowest, below 1/2) stops voting -> A's consensus (D, N) = [1/4, 3/4, 1/2]: 2/3,
    # D: 2/3, N's (A, D): 1/3; then N (1/3) stops voting -> A's consensus is D: 1, D: 1; N and R
    # against (A, D): 1/3 and 0; two voters left: stop.
    np.testing.assert_allclose(consensus_agreement(scores, groups), [1, 1, 0, 1 / 3])
    # never fewer than two voters: two arms that contradict each other stay at 0
    assert consensus_agreement(np.array([a, r]), groups).tolist() == [0.0, 0.0]


def test_verifier_agreement_can_say_it_cannot_judge():
    # all-correct groups order no pair: iterative DPO closes such a decision without feedback
    assert verifier_agreement(np.array([1.0, 2.0]), np.array([1.0, 1.0]), None, empty=None) is None
    assert verifier_agreement(np.array([], dtype=float), np.array([], dtype=float), None, empty=None) is None


def test_fallback_audit_share_spends_the_whole_budget_on_the_unjudged_decisions():
    from laser_plugin.signals import default_audit_share, fallback_audit_share

    assert default_audit_share(5) == 0.0625  # 0.25 / (K - 1)
    assert fallback_audit_share(5, decisions=12, unjudged=4) == pytest.approx(0.1875)  # 0.0625 * 12 / 4
    assert fallback_audit_share(5, decisions=12, unjudged=0) == 0.0
    assert fallback_audit_share(3, decisions=10, unjudged=1, share=0.5) == 1.0  # capped: 0.5 * 10 / 1


@pytest.mark.parametrize("share, size", [(0.25, 4), (0.25 / 3, 12), (0.0625, 16), (0.3, None)])
def test_is_audited_draws_exactly_one_decision_per_block(share, size):
    """Stratified audit draws: block b is the ids with floor(id * share) = b (share 0.3 = 3/10: blocks
    of 4, 3, 3 ids repeating), and each block has exactly one audited id, so two audits are at most
    2 * ceil(1/share) - 1 ids apart; the same seed gives the same ids (a resume), another seed others."""
    from laser_plugin.signals import is_audited

    n = 240  # a whole number of blocks for every share here
    audited = [d for d in range(n) if is_audited(7, d, share)]
    blocks = [int(d * share + 1e-9) for d in audited]
    assert blocks == list(range(len(blocks)))  # one per block, every block
    if size is None:  # 3/10: ids 0-3 | 4-6 | 7-9 | 10-13 | ...
        assert [d * 3 // 10 for d in (3, 4, 6, 7, 9, 10)] == [0, 1, 1, 2, 2, 3]
        assert len(audited) == 72
    else:
        assert len(audited) == n // size
    assert max(np.diff(audited)) <= 2 * np.ceil(1 / share) - 1
    assert audited == [d for d in range(n) if is_audited(7, d, share)]
    assert audited != [d for d in range(n) if is_audited(8, d, share)]
    assert all(is_audited(0, d, 1.0) for d in range(5)) and not any(is_audited(0, d, 0.0) for d in range(5))
