"""Accuracy per domain and arm-selection share per domain (LASeR's per-task analysis, Fig. 3/4)."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping

DEFAULT_DOMAIN = "default"


def accuracy_by_domain(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """records: {"domain": str (optional), "correct": bool, "stratum": str (optional)} -> {domain: {n,
    correct, accuracy}} plus "all". A domain whose records carry a stratum (the gold label of a yes/no or
    multiple-choice question) also gets ``balanced_accuracy``, the mean of each label's accuracy: a
    policy that always answers the same word scores 1 / number of labels there, whatever the label mix."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    strata: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        domain = str(rec.get("domain") or DEFAULT_DOMAIN)
        for key in (domain, "all"):
            counts[key][0] += 1
            counts[key][1] += int(bool(rec["correct"]))
        if rec.get("stratum") is not None:
            strata[domain][str(rec["stratum"])].append(bool(rec["correct"]))
    out = {d: {"n": float(n), "correct": float(c), "accuracy": c / n if n else 0.0}
           for d, (n, c) in sorted(counts.items(), key=lambda kv: (kv[0] == "all", kv[0]))}
    for domain, by_label in strata.items():
        out[domain]["balanced_accuracy"] = stratified_mean(by_label)
    return out


def arm_share_by_domain(records: Iterable[Mapping[str, Any]], arm_key: str = "arm") -> dict[str, dict[str, float]]:
    """records: {"domain", arm_key: arm name} (one per decision or per sample) -> {domain: {arm: share}}."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for rec in records:
        arm = rec.get(arm_key)
        if arm is None:
            continue
        for key in (str(rec.get("domain") or DEFAULT_DOMAIN), "all"):
            counts[key][str(arm)] += 1
    out: dict[str, dict[str, float]] = {}
    for domain in sorted(counts, key=lambda d: (d == "all", d)):
        total = sum(counts[domain].values())
        out[domain] = {arm: n / total for arm, n in sorted(counts[domain].items())}
    return out


Scores = Iterable[float] | Mapping[str, Iterable[float]]  # a domain's per-prompt scores, or per stratum


def stratified_mean(scores: Scores) -> float:
    """Mean of per-prompt scores; with strata ({label: scores}), the mean of each stratum's mean (a
    classification domain's balanced accuracy: a constant answer scores 1 / number of labels)."""
    import numpy as np

    if isinstance(scores, Mapping):
        return float(np.mean([np.mean(list(v)) for v in scores.values()]))
    return float(np.mean(list(scores)))


def bootstrap_ci(values: Mapping[int, Mapping[str, Scores]], n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of the mean over domains of per-domain means. ``values``: {seed: {domain:
    per-prompt scores, or {stratum: scores}}}; each resample draws seeds, then prompts within each
    (seed, domain, stratum): the two sources of variation of a run's score (one seed: prompts only)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    seeds = sorted(values)
    stats = []
    for _ in range(n_boot):
        per_domain: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for s in rng.choice(seeds, size=len(seeds), replace=True):
            for dom, scores in values[s].items():
                for stratum, vals in (scores.items() if isinstance(scores, Mapping) else [("", scores)]):
                    v = np.asarray(list(vals), dtype=float)
                    per_domain[dom][stratum].extend(rng.choice(v, size=len(v), replace=True).tolist())
        stats.append(np.mean([stratified_mean(strata) for strata in per_domain.values()]))
    lo, hi = np.percentile(stats, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi)


def format_table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain fixed-width table for console summaries."""
    cells = [[str(h) for h in header]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


__all__ = ["DEFAULT_DOMAIN", "accuracy_by_domain", "arm_share_by_domain", "bootstrap_ci", "format_table",
           "stratified_mean"]
