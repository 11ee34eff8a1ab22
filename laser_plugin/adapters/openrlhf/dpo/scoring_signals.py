"""Bandit signals known at scoring time in iterative DPO (``--laser.signal verifier | audit | auto``),
fed to the bandit right after each pool call, before the next one selects (so later prompts of a round
already benefit). A part of ``IterativeDPO`` (``loop.py``), which holds the bandit, the round stats,
the loop config and ``_update``.

verifier  agreement of each decision's (and each exploring pick's) within-prompt order with answer
          correctness, a calibrated rate (``signals.verifier_agreement``);
audit     a seeded share of decisions scored by every arm, each paid its consensus agreement;
auto      verifier where it can judge, the audit budget spent on the decisions it cannot.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from laser_plugin.eval.answers import is_correct
from laser_plugin.signals import fallback_audit_share, verifier_agreement


def _explored(result: Any) -> list[dict]:
    """The exploring picks of one pool call (``--reward_selector.explore_by scoring``): feedback only."""
    return list(result.info.get("explored", ())) if result.info else []


class ScoringTimeSignals:
    """The scoring-time signal methods of ``IterativeDPO`` (they use its bandit, stats, loop config,
    args and ``_update``)."""

    def _verifier_signal(self, batch: Any, result: Any, close_unjudged: bool = True) -> list[int]:
        """Per decision of one scoring call (and per exploring pick, ``--reward_selector.explore_by
        scoring``): agreement of the arm's within-prompt order with answer correctness (rows without a
        label are left out), a calibrated rate fed as is. A decision whose prompts have no pair the
        verifier orders (all right, all wrong, no label) says nothing about the arm and is closed
        without feedback instead of being paid 1/2; returns the training decisions among them (an
        exploring pick the verifier cannot judge is always closed)."""
        labels = batch.labels or [None] * len(batch)
        correct = np.array([float(is_correct(r, lab)) if lab not in (None, "") else np.nan
                            for r, lab in zip(batch.responses, labels)])
        rewards = np.asarray(result.rewards)
        units = [(int(d), rows, rewards[rows], False) for d in np.unique(result.decision_ids)
                 for rows in [np.flatnonzero(result.decision_ids == d)]]
        units += [(e["decision"], np.asarray(e["rows"]), np.asarray(e["raw_scores"]), True) for e in _explored(result)]
        ids, values, silent, silent_explored = [], [], [], []
        for d, rows, scores, exploring in units:
            judged = np.isfinite(correct[rows])
            value = verifier_agreement(scores[judged], correct[rows][judged], batch.group_ids[rows][judged], empty=None)
            if value is not None:
                ids.append(d)
                values.append(value)
            else:
                (silent_explored if exploring else silent).append(d)
        self.bandit.forget(silent_explored)
        if close_unjudged:
            self.bandit.forget(silent)
        self._update(list(zip(ids, values)), calibrated=True)
        return silent

    def _audit_signal(self, batch: Any, result: Any) -> None:
        """A seeded share of one scoring call's decisions is scored by every arm, each arm paid its
        agreement with the others' consensus (``BanditRewardPool.audit``); the rest get no feedback
        (nor does an exploring pick: an audit of its decision pays that arm anyway)."""
        self.bandit.forget([e["decision"] for e in _explored(result)])
        for out in self.bandit.audit_share_of(result, batch, self.loop.audit_share, self.args.train.seed):
            self.stats.add_audit(out)

    def _auto_signal(self, batch: Any, result: Any) -> None:
        """Correctness where it can be checked, consensus where not: the verifier feedback, then the
        decisions it cannot judge (e.g. open-ended prompts without a checkable answer) are audited,
        the whole call's audit budget spent on them (``signals.fallback_audit_share``)."""
        unjudged = self._verifier_signal(batch, result, close_unjudged=False)
        share = fallback_audit_share(self.bandit.pool.num_arms, len(np.unique(result.decision_ids)), len(unjudged),
                                     self.loop.audit_share)
        for out in self.bandit.audit_share_of(result, batch, share, self.args.train.seed, decisions=unjudged):
            self.stats.add_audit(out)


__all__ = ["ScoringTimeSignals"]
