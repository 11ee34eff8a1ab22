"""Every arm scores the same responses; within-prompt preference pairs; agreement between arms and with
the gold criterion (the paper's RM-conflict analysis). Reuses ``laser_plugin.analysis.agreement``.

Pairs: every two distinct responses to one prompt. ``diffs[k, p] = s_k(first) - s_k(second)``; for the
gold accuracy, pairs whose gold scores differ, oriented gold-better first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from laser_plugin.analysis.agreement import agreement_matrix, arm_accuracy, format_matrix


@dataclass
class AgreementReport:
    names: list[str]  # arm names (+ "gold" when a gold scorer was given)
    matrix: np.ndarray  # [K, K] agreement over all pairs
    pairs: int
    gold_accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # domain -> arm -> acc
    gold_pairs: dict[str, int] = field(default_factory=dict)
    gold_ties: dict[str, dict[str, float]] = field(default_factory=dict)  # domain -> arm -> share of ties

    def tie_half_accuracy(self, domain: str) -> dict[str, float]:
        """Gold accuracy with a tie counted 1/2: an arm with no opinion on a pair (the verifier on an
        open-ended prompt) builds no DPO pair from it, so it is neither right nor wrong there."""
        acc, ties = self.gold_accuracy.get(domain, {}), self.gold_ties.get(domain, {})
        return {a: acc[a] + 0.5 * ties.get(a, 0.0) for a in acc}

    def best_arm(self) -> str:
        """The arm most accurate against the gold, averaged over domains (ties 1/2: a specialist with no
        opinion outside its domain is not ranked below an arm that is wrong everywhere but one domain);
        without gold differences (e.g. a policy that never gets anything right) the consensus arm,
        agreeing most with the other arms."""
        arms = [n for n in self.names if n != "gold"]
        domains = [d for d in self.gold_accuracy if d != "all"] or [d for d in self.gold_accuracy]
        if domains:
            per = [self.tie_half_accuracy(d) for d in domains]
            acc = {a: float(np.mean([p[a] for p in per])) for a in arms}
        else:
            k = len(arms)
            acc = {a: float(self.matrix[i, :k].sum() - 1.0) for i, a in enumerate(arms)}
        return max(arms, key=lambda a: (acc[a], -self.names.index(a)))

    def markdown(self) -> str:
        text = f"Pairwise preference agreement between arms ({self.pairs} within-prompt pairs)\n\n"
        text += format_matrix(self.matrix, self.names)
        if self.gold_accuracy:
            arms = [n for n in self.names if n != "gold"]
            text += "\n\nAccuracy of each arm's preference against the gold criterion (pairs with a gold difference)\n\n"
            text += "| domain | pairs | " + " | ".join(arms) + " |\n|---|---|" + "---|" * len(arms) + "\n"
            for dom, acc in self.gold_accuracy.items():
                text += f"| {dom} | {self.gold_pairs[dom]} | " + " | ".join(f"{acc[a]:.3f}" for a in arms) + " |\n"
        return text


def score_records(records: list[dict[str, Any]], pool_spec: str) -> tuple[list[str], np.ndarray]:
    """[K arms, S records] raw scores; records hold prompt (as the policy saw it), response, label."""
    from laser_plugin.pool.pool import RewardPool
    from laser_plugin.pool.types import ScoringBatch

    pool = RewardPool(pool_spec)
    batch = ScoringBatch(queries=[r["prompt"] + r["response"] for r in records], prompts=[r["prompt"] for r in records],
                         responses=[r["response"] for r in records], labels=[r.get("label") for r in records],
                         group_ids=np.asarray(_groups(records)))
    try:
        return list(pool.arm_names), np.stack([pool.score_raw(batch, k) for k in range(pool.num_arms)])
    finally:
        pool.close()


def _groups(records: list[dict[str, Any]]) -> list[int]:
    keys: dict[str, int] = {}
    return [keys.setdefault(str(r.get("group", r["prompt"])), len(keys)) for r in records]


def _pairs(records: list[dict[str, Any]]) -> list[tuple[int, int]]:
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(_groups(records)):
        by_group.setdefault(g, []).append(i)
    return [(i, j) for rows in by_group.values() for i, j in combinations(rows, 2)
            if records[i]["response"].strip() != records[j]["response"].strip()]


def agreement(records: list[dict[str, Any]], pool_spec: str, gold: Optional[Callable[[dict], float]] = None,
              scored: Optional[tuple[list[str], np.ndarray]] = None) -> AgreementReport:
    """``scored``: ``score_records``' result when the caller already has it (not scored again)."""
    names, scores = scored if scored is not None else score_records(records, pool_spec)
    pairs = _pairs(records)
    if not pairs:
        raise ValueError("no within-prompt pairs of distinct responses to compare")
    first, second = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    g = np.array([gold(r) for r in records]) if gold is not None else None
    all_scores = np.vstack([scores, g[None]]) if g is not None else scores
    report = AgreementReport(names + (["gold"] if g is not None else []),
                             agreement_matrix(all_scores[:, first] - all_scores[:, second]), len(pairs))
    if g is not None:
        gd = g[first] - g[second]
        domains = sorted({str(r.get("domain", "all")) for r in records})
        for dom in domains + ["all"]:
            sel = [k for k, (i, _) in enumerate(pairs) if gd[k] != 0 and (dom == "all" or str(records[i].get("domain", "all")) == dom)]
            if not sel:
                continue
            # orient each pair gold-better first: an arm is right when its diff has the gold's sign
            diffs = (scores[:, first[sel]] - scores[:, second[sel]]) * np.sign(gd[sel])[None]
            report.gold_accuracy[dom] = dict(zip(names, arm_accuracy(diffs).tolist()))
            report.gold_ties[dom] = dict(zip(names, (diffs == 0).mean(axis=1).tolist()))
            report.gold_pairs[dom] = len(sel)
    return report


def heatmap(report: AgreementReport, path: Path, title: str = "Arm preference agreement") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(report.names)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2, 1.1 * k + 1.5))
    im = ax.imshow(report.matrix, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(k), report.names, rotation=45, ha="right")
    ax.set_yticks(range(k), report.names)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{report.matrix[i, j]:.2f}", ha="center", va="center",
                    color="white" if report.matrix[i, j] < 0.6 else "black", fontsize=9)
    ax.set_title(f"{title}\n({report.pairs} pairs)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
