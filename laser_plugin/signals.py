"""Bandit signals for online RL (PPO / REINFORCE++ / GRPO), pure numpy.

LASeR (arXiv 2410.01735) rewards the arm with the negative training loss of the batch it scored,
    r_t = -L(batch_t)            (then rescaled by the signal normaliser, e.g. q20/q80 -> [0, 1]).
In iterative DPO that loss measures how learnable the chosen RM's preferences are. In PPO/GRPO the
policy loss is a weaker proxy (advantages are normalised, so its scale drifts), hence signals
designed for group-based RL (used by iterative DPO too). In PPO/GRPO ``loss`` is credited per
decision: each decision is paid how much the step lowered ITS rows' clipped policy loss,
    r_d = mean_{i in d} surrogate_gain_i     (one more actor forward over the rollout per step)
instead of one step loss broadcast to every decision of the step:


group_variance (informativeness): GRPO's advantage A_i = (r_i - mean_g) / std_g is zero for every
    sample of a group whose rewards are all equal, so such a group teaches nothing. The signal is
        s = (1/G) * sum_g 1[std(r_g) > eps]
    the share of informative groups the arm produced. Alone it would favour a noisy arm, so it is
    meant for pools of sensible RMs or together with a verifier.
verifier (agreement): where labels exist and a verifier arm is in the pool, the arm is rewarded by
    how often its within-group ordering agrees with the verifier's,
        s = #concordant pairs / #pairs the verifier orders strictly   (0.5 when it orders none)
    which resists arms whose preferences are easy to fit but wrong.
audit (cross-arm consensus, no labels): on a small share of decisions every arm scores the same
    rows; arm k is paid its agreement with the leave-one-out consensus of the others,
        c_k(i) = mean_{j != k, j informative} rank_j(i)      (ranks within each group, in [0, 1])
        a_k    = sum over within-group pairs (i, i') ordered strictly by c_k of
                 [1 if arm k orders them the same way, 1/2 if it ties them, 0 otherwise] / #pairs
    An arm that only ties (no opinion) or orders at random scores ~1/2; one that contradicts what
    the other arms agree on (a lone misleading arm) scores < 1/2 and is then trimmed from the
    consensus (it stops voting; the others are scored again); a lone CORRECT arm among uninformed
    ones is not recognised (the consensus can only carry what most arms know).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional

import numpy as np


def _groups(group_ids: Optional[np.ndarray], n: int) -> list[np.ndarray]:
    if group_ids is None:
        return [np.arange(n)]
    group_ids = np.asarray(group_ids)
    return [np.flatnonzero(group_ids == g) for g in np.unique(group_ids)]


def group_informativeness(rewards: np.ndarray, group_ids: Optional[np.ndarray], eps: float = 1e-6) -> float:
    """Share of groups (>= 2 samples) whose rewards are not all equal."""
    rewards = np.asarray(rewards, dtype=np.float64)
    groups = [g for g in _groups(group_ids, len(rewards)) if len(g) >= 2]
    if not groups:
        return 0.0
    return float(np.mean([rewards[g].std() > eps for g in groups]))


def verifier_agreement(scores: np.ndarray, verifier: np.ndarray, group_ids: Optional[np.ndarray],
                       empty: Optional[float] = 0.5) -> Optional[float]:
    """Share of within-group pairs ordered strictly by the verifier that the arm orders the same way;
    ``empty`` where the verifier orders no pair (the arm's order cannot be judged)."""
    scores = np.asarray(scores, dtype=np.float64)
    verifier = np.asarray(verifier, dtype=np.float64)
    concordant = total = 0
    for g in _groups(group_ids, len(scores)):
        s = scores[g][:, None] - scores[g][None, :]
        v = verifier[g][:, None] - verifier[g][None, :]
        strict = np.triu(v != 0, k=1)
        total += int(strict.sum())
        concordant += int((np.sign(s) == np.sign(v))[strict].sum())
    return concordant / total if total else empty


def loss_signal(loss: float) -> float:
    """LASeR's raw signal: the negative loss (normalised downstream)."""
    if not np.isfinite(loss):
        raise ValueError(f"training loss is {loss}: refusing to feed a non-finite reward to the bandit")
    return -float(loss)


def surrogate_gain(old_log_probs: np.ndarray, new_log_probs: np.ndarray, advantages: np.ndarray,
                   action_mask: np.ndarray, clip_eps: tuple[float, float] = (0.2, 0.2)) -> np.ndarray:
    """Per row ([N, T] token arrays): how much one policy update lowered that row's PPO-clip loss,
        g_i = mean_{t: m_it} [ min(rho A, clip(rho, 1 - e_lo, 1 + e_hi) A) - A ]_it,  rho = exp(new - old)
    (before the update rho = 1 and the surrogate is A itself). Why not the row's loss itself: at
    rho = 1 it is -mean_t A, which group-normalised advantages make ~0 for every arm; its change
    across the step says how far the update moved toward this row's advantages. Bounded by the clip:
    |g_i| <= max(e_lo, e_hi) max_t |A_it|."""
    old, new = np.asarray(old_log_probs, dtype=np.float64), np.asarray(new_log_probs, dtype=np.float64)
    adv, mask = np.asarray(advantages, dtype=np.float64), np.asarray(action_mask, dtype=bool)
    if not (old.shape == new.shape == adv.shape == mask.shape):
        raise ValueError(f"surrogate_gain: shapes differ: old {old.shape}, new {new.shape}, advantages "
                         f"{adv.shape}, mask {mask.shape}")
    ratio = np.exp(np.where(mask, new - old, 0.0))
    clipped = np.clip(ratio, 1.0 - clip_eps[0], 1.0 + clip_eps[1])
    gain = np.where(mask, np.minimum(ratio * adv, clipped * adv) - adv, 0.0)
    tokens = mask.sum(axis=-1)
    out = gain.sum(axis=-1) / np.maximum(tokens, 1)
    if not np.all(np.isfinite(out)):
        raise ValueError("surrogate_gain: a non-finite log-probability or advantage; refusing to feed it to the bandit")
    return out


def probe_value(chosen_log_ratios: np.ndarray, rejected_log_ratios: np.ndarray, beta: float = 0.1) -> float:
    """How strongly the policy has come to prefer the chosen response of each trusted pair: minus the
    DPO loss of the pairs, with log-ratios to a reference policy (log pi(y|x) - log pi_ref(y|x)),
        v = mean_i log sigmoid( beta (ratio_chosen_i - ratio_rejected_i) )
    (the ratios cancel what the raw sequence log-probs mostly measure: length). The probe signal is
    its rise across a step, v_after - v_before: an arm whose preferences are easy to fit but wrong
    (longer is better) moves the policy away from the trusted pairs, so v falls."""
    margin = beta * (np.asarray(chosen_log_ratios, dtype=np.float64) - np.asarray(rejected_log_ratios, dtype=np.float64))
    if margin.size == 0 or not np.all(np.isfinite(margin)):
        raise ValueError("probe_value: no pairs, or a non-finite log-probability")
    return float(np.mean(-np.logaddexp(0.0, -margin)))


def mean_by_decision(values: np.ndarray, decision_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(decision ids, mean of ``values`` over each decision's rows)."""
    values, decision_ids = np.asarray(values, dtype=np.float64), np.asarray(decision_ids, dtype=np.int64)
    ids, inverse = np.unique(decision_ids, return_inverse=True)
    return ids, np.bincount(inverse, weights=values) / np.bincount(inverse)


def _group_ranks(scores: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Within-group average ranks scaled to [0, 1] (ties share a rank; a constant group -> NaN)."""
    out = np.full(scores.shape, np.nan)
    for g in groups:
        s = scores[g]
        if len(g) >= 2 and np.all(np.isfinite(s)) and np.ptp(s) > 1e-12:
            below = (s[:, None] > s[None, :]).sum(axis=1)
            ties = (s[:, None] == s[None, :]).sum(axis=1) - 1
            out[g] = (below + 0.5 * ties) / (len(g) - 1.0)  # 0-based average rank
    return out


def _agreement_with_voters(scores: np.ndarray, ranks: np.ndarray, groups: list[np.ndarray],
                           voters: np.ndarray) -> np.ndarray:
    """Per arm with scores, its agreement with the mean rank of the OTHER voting arms."""
    k_arms = scores.shape[0]
    out = np.full(k_arms, np.nan)
    for k in range(k_arms):
        if not np.all(np.isfinite(scores[k])):
            continue
        others = ranks[voters & (np.arange(k_arms) != k)]
        informed = np.isfinite(others)
        consensus = np.where(informed.any(axis=0), np.nansum(others, axis=0) / np.maximum(informed.sum(axis=0), 1), np.nan)
        agree = total = 0.0
        for g in groups:
            c, s = consensus[g], scores[k][g]
            if not np.all(np.isfinite(c)):
                continue
            dc = np.sign(c[:, None] - c[None, :])
            ds = np.sign(s[:, None] - s[None, :])
            strict = np.triu(dc != 0, k=1)
            total += float(strict.sum())
            agree += float((ds == dc)[strict].sum()) + 0.5 * float((ds == 0)[strict].sum())
        out[k] = agree / total if total else 0.5
    return out


def consensus_agreement(scores: np.ndarray, group_ids: Optional[np.ndarray], trim: bool = True) -> np.ndarray:
    """Per arm, the agreement of its within-group ordering with the leave-one-out consensus of the
    other arms (see the module docstring). ``scores``: [K, N] raw scores, NaN rows for arms that
    did not score. Returns [K]: NaN for arms without scores, 1/2 where the others agree on nothing.

    ``trim``: an arm that contradicts the consensus has no vote in it. A plain mean lets one arm that
    ranks exactly in reverse cancel an agreeing arm in every leave-one-out mean, and then a noise arm
    scores as well as the arms that agree (benchmarks/results/grpo_signals.md). So, while the
    lowest agreement is below chance and more than two arms would still vote, the arm(s) with the
    lowest agreement stop voting and every arm is scored again against the remaining voters."""
    scores = np.asarray(scores, dtype=np.float64)
    k_arms, n = scores.shape
    groups = _groups(group_ids, n)
    ranks = np.stack([_group_ranks(scores[k], groups) for k in range(k_arms)])  # [K, N], NaN: no opinion
    voters = np.all(np.isfinite(scores), axis=1)
    out = _agreement_with_voters(scores, ranks, groups, voters)
    while trim:
        candidates = np.flatnonzero(voters & np.isfinite(out))
        worst = out[candidates].min() if len(candidates) else 0.5
        dropped = candidates[out[candidates] == worst]
        if worst >= 0.5 or len(candidates) - len(dropped) < 2:
            break
        voters[dropped] = False
        out = _agreement_with_voters(scores, ranks, groups, voters)
    return out


def default_audit_share(num_arms: int) -> float:
    """Audit share keeping total scoring <= 1.25x one arm: each audit asks the K - 1 other arms."""
    return min(1.0, 0.25 / max(num_arms - 1, 1))


def fallback_audit_share(num_arms: int, decisions: int, unjudged: int, share: Optional[float] = None) -> float:
    """Audit share of the decisions a verifier cannot judge (signal ``auto``): the audit budget of all
    ``decisions`` (``share``, default ``default_audit_share``) spent on the ``unjudged`` ones, so the
    extra scoring stays what ``audit`` alone would cost while no judged decision is audited."""
    if unjudged <= 0:
        return 0.0
    budget = share if share is not None else default_audit_share(num_arms)
    return min(1.0, budget * decisions / unjudged)


def is_audited(seed: int, decision_id: int, share: float) -> bool:
    """Whether decision ``decision_id`` is audited. Stratified: the ids are cut into consecutive blocks
    of about 1/share (block b holds the ids with floor(id * share) = b) and one id per block, drawn
    uniformly with the seed (seed, b), is audited. Why not an independent draw per decision: a short
    run could get no audit at all ((1 - share)^n: 10% of 36-decision GRPO runs at K = 5, which then
    learned nothing); blocks keep the expected share and the same choice after a resume, and two
    audits are at most 2 * ceil(1/share) - 1 decisions apart. ``share`` is read as the nearest fraction p/q
    (q <= 10^6) so block edges are exact integers."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    ratio = Fraction(share).limit_denominator(10**6)
    p, q, d = ratio.numerator, ratio.denominator, int(decision_id)
    if p == 0:  # share < 5e-7: one audit per two million decisions or more, i.e. none
        return False
    block = d * p // q
    first, after = -(-block * q // p), -(-(block + 1) * q // p)  # the block's ids: first .. after - 1
    pick = first + int(np.random.default_rng([int(seed), block]).random() * (after - first))
    return d == pick
