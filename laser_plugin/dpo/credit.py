"""Attributing DPO training signals to the bandit decisions whose pairs produced them (framework-free).

LASeR (arXiv 2410.01735, Alg. 1) rewards the arm chosen for a batch with the negative DPO loss of
that batch, r = -L, rescaled by the signal normaliser. In our loop one decision (one RM chosen for
a scoring batch, or for one prompt) yields several pairs, which OpenRLHF's DPO trainer may spread
over micro-batches (and ranks). Each training row carries its decision id, so a micro-batch's
per-row losses are credited to the decisions of its rows, and a decision is fed back exactly once,
as the mean over its rows, when its last row has been trained (``DecisionCredit``).

Signals (``--laser.signal``):
  loss      LASeR's -loss (the paper's signal). It pays the arm whose preferences the policy fits
            fastest, and an easy-to-fit misleading arm (e.g. "longer is better") is exactly that:
            in an earlier benchmark run it took 62% of the last rounds' decisions (README, "Which
            bandit signal").
  probe     improvement of the DPO loss on a small held-out probe set of trusted pairs across an
            optimizer step, credited to the decisions of the rows in that step (row-weighted).
            An arm whose preferences are easy to fit but wrong lowers the training loss while
            raising (or not lowering) the probe loss, so it does not win under this signal.
  verifier  (default with labels) agreement of the arm's within-prompt ranking with answer correctness
            (``laser_plugin.signals.verifier_agreement``); independent of training.
  audit     (default without labels) cross-arm audit, no labels: a seeded share of decisions (``--laser.audit_share``;
            default 0.25/(K-1), so scoring costs <= 1.25x one arm; one decision in each run of
            ~1/share, ``signals.is_audited``) is scored by every arm, and
            each arm is paid its agreement with the leave-one-out consensus of the others
            (``laser_plugin.signals``); the other decisions get no feedback.
  auto      verifier where a decision's prompts have labels that order its responses, audit for the
            decisions the verifier cannot judge (open-ended prompts, all answers right or all wrong),
            with the audit budget of all decisions spent on those (``signals.fallback_audit_share``):
            correctness where it can be checked, consensus where it cannot.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Optional, Sequence

import numpy as np

DPO_SIGNALS = ("loss", "probe", "verifier", "audit", "auto")
# --reward_selector.explore_by per signal when not given (core.exploration): loss and probe learn
# from training on the pick's pairs; verifier and auto judge any arm's scores, so a differing pick
# scores for feedback only; audits already score every arm.
DPO_EXPLORE_BY = {"loss": "training", "probe": "training", "verifier": "scoring", "auto": "scoring",
                  "audit": "none"}


def default_dpo_signal(has_labels: bool) -> str:
    """The default when ``--laser.signal`` is not given: ``verifier`` when the prompts carry
    labels (``--data.label_key``), ``audit`` when they do not. Why, from
    benchmarks/results/learning_quality.md (3 seeds, same budget, held-out gold): verifier 0.583, auto
    0.532, random 0.509, score_mean 0.481; the verifier cannot be paid by an easy-to-fit wrong arm, and
    auto's audits of the decisions it cannot judge cost 24% more scoring without moving writing off the
    verifier arm. Without labels the audit is the only signal that needs none, and it is weak on a
    pool whose arms mostly know nothing of a domain: its ~7 audits per run let the noise arm lead
    (0.377 on that benchmark). Since it trains only where the bandit's lower confidence bound clears
    chance (``core.exploration``), it holds the start policy instead (0.574; 0.583 with 4x the audits,
    which moved writing to its best arm), README "Which bandit signal"."""
    return "verifier" if has_labels else "audit"


def dpo_bandit_defaults(laser: Any, signal: str) -> Any:
    """Iterative DPO's bandit defaults where ``--reward_selector.*`` leaves them open, measured in
    benchmarks/results/learning_quality.md:
    granularity  per prompt (group): per-prompt audit 0.602 vs 0.454 per pool call (paired +0.148
                 [+0.04, +0.26]; verifier +0.04, within noise; the earlier design's run);
    explore_by   ``DPO_EXPLORE_BY[signal]``: signals that judge an arm's scores explore by scoring
                 (verifier, auto) or by their audits (audit), so the policy trains on the arm with the
                 best estimate (verifier: 0.583 vs 0.569 with training, math 0.625 vs 0.514); loss
                 and probe learn from training on the pick's pairs (training)."""
    changes = {}
    if not laser.granularity_given:
        changes["granularity"] = "group"
    if laser.explore_by is None:
        changes["explore_by"] = DPO_EXPLORE_BY[signal]
    elif laser.explore_by != "training" and signal in ("loss", "probe"):
        raise ValueError(f"--reward_selector.explore_by {laser.explore_by} with --laser.signal {signal}: that signal "
                         "is the training loss on the pick's pairs, so the pick must train; use "
                         "--reward_selector.explore_by training (or leave it out)")
    return dataclasses.replace(laser, **changes) if changes else laser


def all_abstained_warning(stats: dict[str, Any], signal: str) -> Optional[str]:
    """What to tell the user when every decision of a round abstained (nothing trained), with the
    fix that fits the signal; None when something trained."""
    if not stats["decisions"] or stats.get("abstained") != stats["decisions"]:
        return None
    if signal == "audit":
        why = ("the audits so far leave every arm's lower confidence bound at or below chance (the arms do not "
               "agree enough, or too few decisions were audited). Raise --laser.audit_share, give labels "
               "(--data.label_key) for the verifier signal, or train on the bandit's picks "
               "(--reward_selector.explore_by training, LASeR)")
    else:
        why = (f"the {signal} signal judged {stats['bandit_updates']} decisions (with verifier: every answer group "
               "all right or all wrong). Use --laser.signal audit or auto (cross-arm consensus), or "
               "--reward_selector.explore_by training (LASeR: train on the bandit's picks)")
    return f"every decision abstained, nothing trained: no arm is yet believed better than chance: {why}"


class DecisionCredit:
    """Row-weighted mean of per-row values per decision; a decision completes when all its expected
    rows were seen. ``expected``: decision id -> rows of that decision that will be trained."""

    def __init__(self, expected: dict[int, int]) -> None:
        if any(n < 1 for n in expected.values()):
            raise ValueError("every expected decision needs >= 1 row")
        self.expected = {int(k): int(v) for k, v in expected.items()}
        self._sum: dict[int, float] = {}
        self._weight: dict[int, float] = {}
        self._rows: dict[int, int] = {}
        self.done: set[int] = set()
        self.weight_of: dict[int, float] = {}  # completed decision -> total row weight it was fed with

    def add(self, decision_ids: Sequence[int], values: Sequence[float],
            weights: Optional[Sequence[float]] = None) -> list[tuple[int, float]]:
        """Record one value per row; return (decision id, mean value) for decisions now complete."""
        ids = np.asarray(decision_ids, dtype=np.int64).reshape(-1)
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        w = np.ones_like(vals) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
        if not (ids.shape == vals.shape == w.shape):
            raise ValueError(f"need one value and weight per row: {ids.shape}, {vals.shape}, {w.shape}")
        if not np.all(np.isfinite(vals)):
            raise ValueError("refusing to feed a non-finite training signal to the bandit")
        completed = []
        for d, v, wt in zip(ids.tolist(), vals.tolist(), w.tolist()):
            if d not in self.expected:
                raise KeyError(f"row of decision {d}, which is not expected in this round")
            if d in self.done:
                raise ValueError(f"decision {d} got more rows than the {self.expected[d]} expected")
            self._sum[d] = self._sum.get(d, 0.0) + wt * v
            self._weight[d] = self._weight.get(d, 0.0) + wt
            self._rows[d] = self._rows.get(d, 0) + 1
            if self._rows[d] == self.expected[d]:
                completed.append(d)
        return [self._complete(d) for d in completed]

    def _complete(self, d: int) -> tuple[int, float]:
        self.done.add(d)
        weight = self._weight.pop(d)
        self.weight_of[d] = weight
        value = self._sum.pop(d) / weight if weight > 0 else 0.0
        self._rows.pop(d, None)
        return d, value

    def flush(self) -> list[tuple[int, float]]:
        """Decisions seen only partly (e.g. training stopped early): fed with what was seen."""
        return [self._complete(d) for d in sorted(self._sum)]

    @property
    def pending(self) -> list[int]:
        return sorted(set(self.expected) - self.done)


class StepAttribution:
    """For the probe signal: rows trained since the last optimizer step, and the probe loss then."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.last_probe: Optional[float] = None

    def add_rows(self, rows: Iterable[int]) -> None:
        self.rows.extend(int(r) for r in rows)

    def close_step(self, probe_loss: float) -> tuple[list[int], float]:
        """New probe loss measured after a step: (rows of that step, improvement = before - after)."""
        rows, before = self.rows, self.last_probe
        self.rows, self.last_probe = [], float(probe_loss)
        if before is None or not rows:
            return [], 0.0
        return rows, before - float(probe_loss)


__all__ = ["DPO_EXPLORE_BY", "DPO_SIGNALS", "DecisionCredit", "StepAttribution", "all_abstained_warning",
           "default_dpo_signal", "dpo_bandit_defaults"]
