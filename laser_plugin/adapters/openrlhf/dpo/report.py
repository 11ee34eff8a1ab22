"""Per-round statistics of the iterative DPO loop and the readable end-of-run summary."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

import numpy as np

from laser_plugin.core.exploration import ABSTAINED
from laser_plugin.eval.metrics import format_table


class RoundStats:
    """Collected on rank 0 while a round runs; ``finish`` returns a JSON-able dict."""

    def __init__(self, round_idx: int, arm_names: list[str], pool_metrics: dict | None = None) -> None:
        self.round, self.names = round_idx, list(arm_names)
        self.pool_before = self._pool_totals(pool_metrics or {})
        self.losses: dict[str, list[float]] = defaultdict(list)
        self.rewards: dict[str, list[float]] = defaultdict(list)
        self.signals: list[float] = []
        self.signal_weights: list[float] = []  # rows behind each signal (1 for non-row signals)
        self.probe_losses: list[float] = []
        self.audits: list[dict[str, float]] = []  # per audit: arm -> consensus agreement
        self.train_logs: dict[str, Any] = {}
        self.scoring: dict[str, Any] = {}

    def _pool_totals(self, metrics: dict) -> dict[str, float]:
        """RM compute seconds, load seconds, loads and scored samples summed over arms (pool counters)."""
        keys = ("seconds", "load_seconds", "loads", "samples")
        return {k: float(sum(metrics.get(f"pool/{n}/{k}", 0.0) for n in self.names)) for k in keys}

    def _name(self, arm: int) -> str:
        return self.names[arm] if arm >= 0 else "ensemble"

    def add_losses(self, arms: np.ndarray, losses: np.ndarray) -> None:
        for a, loss in zip(arms.tolist(), losses.tolist()):
            self.losses[self._name(a)].append(float(loss))

    def add_update(self, result: dict, values: Iterable[float], weights: Iterable[float] = ()) -> None:
        values = [float(v) for v in values]
        weights = [float(w) for w in weights] or [1.0] * len(values)
        self.signals.extend(values)
        self.signal_weights.extend(weights)
        for a, rew in zip(result["arms"].tolist(), result["rewards"].tolist()):
            if a >= 0 and np.isfinite(rew):
                self.rewards[self._name(a)].append(float(rew))

    def add_audit(self, result: dict) -> None:
        """One cross-arm audit: every arm was paid its agreement (the bandit reward, unnormalised)."""
        arms = result["arms"].tolist()
        self.add_update({"arms": result["arms"], "rewards": result["rewards"][result["arms"]]},
                        result["agreement"][result["arms"]])
        self.audits.append({self._name(a): float(result["agreement"][a]) for a in arms})

    def record_scoring(self, items: list, pidx: list, responses: list, scored: Any, pairs: list) -> None:
        per_prompt: dict[int, set] = defaultdict(set)
        for p, r in zip(pidx, responses):
            per_prompt[p].add(" ".join(r.split()))
        # a decision that abstained (no arm believed better than chance) trained nothing: its own column
        trained = lambda d: ABSTAINED if d["decision"] in scored.abstained else self._name(d["arm"])  # noqa: E731
        arms = Counter(trained(d) for d in scored.decisions)
        by_domain: dict[str, Counter] = defaultdict(Counter)
        for d in scored.decisions:
            for p in d["prompts"]:
                by_domain[items[p].domain][trained(d)] += 1
        self.scoring = {
            "prompts": len(per_prompt), "samples": len(pidx),
            "distinct_per_prompt": float(np.mean([len(v) for v in per_prompt.values()])) if per_prompt else 0.0,
            "decisions": len(scored.decisions),
            "arm_share": {n: arms[n] / max(len(scored.decisions), 1) for n in self.names + ["ensemble", ABSTAINED]
                          if arms[n]},
            "arm_share_by_domain": {dom: {n: c / sum(cnt.values()) for n, c in cnt.items()} for dom, cnt in by_domain.items()},
            "score_seconds": scored.seconds,
            "pairs_by_arm": dict(Counter(self._name(int(scored.arms[p.chosen])) for p in pairs)),
            # --reward_selector.explore_by scoring: picks that scored for feedback only (not trained on)
            "explored": len(scored.explored),
            "abstained": len(scored.abstained),  # decisions no arm was believed for: scored, not trained
            "explored_by_arm": dict(Counter(self._name(e["arm"]) for e in scored.explored)),
        }

    def finish(self, bandit: Any, pairs: int, trained: int, steps: int, t: dict, signal: str) -> dict:
        all_losses = [x for v in self.losses.values() for x in v]
        metrics = bandit.metrics()
        after = self._pool_totals(metrics)
        pool = {f"rm_{k}": after[k] - self.pool_before[k] for k in after}  # this round only
        return {
            "round": self.round, **self.scoring, "pairs": pairs, "pairs_trained": trained, "optimizer_steps": steps,
            "loss_mean": float(np.mean(all_losses)) if all_losses else None,
            "loss_by_arm": {k: float(np.mean(v)) for k, v in self.losses.items()},
            "acc": self.train_logs.get("acc_mean", self.train_logs.get("acc")),
            "signal": signal,
            "signal_mean": float(np.mean(self.signals)) if self.signals else None,
            # weighted by the rows behind each decision: equals -loss_mean under the loss signal
            "signal_row_mean": float(np.average(self.signals, weights=self.signal_weights)) if self.signals else None,
            "bandit_updates": len(self.signals),
            "bandit_reward_by_arm": {k: float(np.mean(v)) for k, v in self.rewards.items()},
            "probe_loss": self.probe_losses[-1] if self.probe_losses else None,
            "audits": len(self.audits),
            "audit_payments": sum(len(a) for a in self.audits),  # arms paid (an arm with no opinion is not)
            "audit_agreement_by_arm": {n: float(np.mean([a[n] for a in self.audits if n in a]))
                                       for n in self.names if any(n in a for a in self.audits)},
            "bandit_pending": float(metrics.get("laser/pending", 0.0)),
            "pool": pool,
            # t holds (wall, process CPU) clock readings per phase boundary
            "seconds": _phase_table(t, 0), "cpu_seconds": _phase_table(t, 1),
        }


def _phase_table(t: dict, i: int) -> dict:
    return {"sample": t["sampled"][i] - t["start"][i], "score": t["scored"][i] - t["sampled"][i],
            "train": t["trained"][i] - t["scored"][i], "checkpoint": t["saved"][i] - t["trained"][i],
            "total": t["saved"][i] - t["start"][i]}


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def print_summary(history: list[dict], arm_names: list[str], selector: str, signal: str) -> None:
    names = arm_names + [n for n in ("ensemble", ABSTAINED) if any(n in h.get("arm_share", {}) for h in history)]
    header = ["round", "pairs", "steps", "loss", "acc", "signal"] + [f"share:{n}" for n in names] + \
             [f"reward:{n}" for n in arm_names] + ["seconds"]
    rows = []
    for h in history:
        rows.append([h["round"], h["pairs"], h["optimizer_steps"], _fmt(h["loss_mean"]), _fmt(h["acc"]),
                     _fmt(h["signal_mean"])] + [_fmt(h.get("arm_share", {}).get(n, 0.0)) for n in names]
                    + [_fmt(h["bandit_reward_by_arm"].get(n)) for n in arm_names] + [f"{h['seconds']['total']:.1f}"])
    print(f"\n[laser] iterative DPO summary (selector={selector}, signal={signal}; share = share of bandit "
          f"decisions, reward = mean normalised bandit reward)")
    print(format_table(rows, header))


__all__ = ["RoundStats", "print_summary"]
