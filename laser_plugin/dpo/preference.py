"""Preference pairs from N scored samples per prompt (LASeR's preference-data step).

LASeR (arXiv 2410.01735, Sec. 3) samples N responses per prompt, lets the selected RM score them and
builds DPO pairs from the ranking *within each prompt* (the released code paired responses across
prompts; never do that). Strategies, on the scores of one prompt's unique responses sorted high to low
``s_(1) >= ... >= s_(n)``:

* ``best_worst``     one pair (s_(1), s_(n)) -- OpenRLHF's old iterative-DPO processor;
* ``top_bottom_k``   k disjoint pairs (s_(i), s_(n+1-i)), i = 1..k (k <= n // 2) -- the paper's
                     "30 samples -> 10 pairs" setting is top_bottom_k with k = 10;
* ``margin``         every pair (i, j) with s_i - s_j > margin, widest gaps first, at most
                     ``max_pairs_per_prompt``.

Every strategy keeps only pairs whose score gap is strictly greater than ``margin`` (0: strictly
better), so ties never become pairs. Identical responses (after whitespace normalisation) are merged
first (their scores averaged): with temperature sampling duplicates still happen for short answers,
and a pair of identical texts has a zero DPO gradient while still costing a forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from laser_plugin.cli_fields import option

PAIR_STRATEGIES = ("best_worst", "top_bottom_k", "margin")


@dataclass
class PairConfig:
    """How pairs are built per prompt.

    strategy: one of PAIR_STRATEGIES.
    k: pairs per prompt for ``top_bottom_k``.
    margin: minimum score gap (exclusive) for a pair, in the scale of the scores passed in
        (the pool's per-arm normalised rewards in the DPO loop).
    max_pairs_per_prompt: cap for ``margin`` (None: no cap).
    dedup: merge identical responses before pairing.
    """

    strategy: str = option("best_worst", " | ".join(PAIR_STRATEGIES), flag="pair_strategy")
    k: int = option(1, "k for top_bottom_k", flag="pairs_per_prompt")
    margin: float = option(0.0, "minimum normalised score gap for a pair (exclusive)", flag="pair_margin")
    max_pairs_per_prompt: Optional[int] = option(None, "cap for the margin strategy")
    dedup: bool = option(True, "keep identical responses as separate candidates")  # --laser.no_dedup

    def __post_init__(self) -> None:
        if self.strategy not in PAIR_STRATEGIES:
            raise ValueError(f"pair strategy {self.strategy!r} not in {PAIR_STRATEGIES}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if not np.isfinite(self.margin) or self.margin < 0:
            raise ValueError(f"margin must be a finite number >= 0, got {self.margin!r}")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(f"max_pairs_per_prompt must be >= 1 or None, got {self.max_pairs_per_prompt!r}")


@dataclass(frozen=True)
class PreferencePair:
    """Row indices (into the flat sample list) of the chosen and rejected responses of one prompt."""

    group: int
    chosen: int
    rejected: int
    gap: float


def _norm_text(text: str) -> str:
    return " ".join(text.split())


def unique_rows(rows: Sequence[int], responses: Sequence[str], scores: np.ndarray,
                dedup: bool = True) -> tuple[list[int], np.ndarray]:
    """Representative row per distinct response (first occurrence) and its mean score; rows with a
    non-finite score are dropped."""
    keep: dict[str, list[int]] = {}
    for r in rows:
        if not np.isfinite(scores[r]):
            continue
        key = _norm_text(responses[r]) if dedup else str(r)
        keep.setdefault(key, []).append(int(r))
    reps = [members[0] for members in keep.values()]
    means = np.array([float(np.mean(scores[members])) for members in keep.values()], dtype=np.float64)
    return reps, means


def pairs_for_group(group: int, rows: Sequence[int], responses: Sequence[str], scores: np.ndarray,
                    config: PairConfig) -> list[PreferencePair]:
    """Pairs for one prompt, ``rows`` being the indices of its samples."""
    reps, means = unique_rows(rows, responses, scores, config.dedup)
    if len(reps) < 2:
        return []
    # High to low; ties broken by row index so the result is deterministic.
    order = sorted(range(len(reps)), key=lambda i: (-means[i], reps[i]))
    ranked = [(reps[i], means[i]) for i in order]
    candidates: list[tuple[int, int, float]] = []
    if config.strategy == "best_worst":
        candidates = [(ranked[0][0], ranked[-1][0], ranked[0][1] - ranked[-1][1])]
    elif config.strategy == "top_bottom_k":
        for i in range(min(config.k, len(ranked) // 2)):
            hi, lo = ranked[i], ranked[-1 - i]
            candidates.append((hi[0], lo[0], hi[1] - lo[1]))
    else:  # margin: all ordered pairs, widest gap first
        for i in range(len(ranked)):
            for j in range(i + 1, len(ranked)):
                candidates.append((ranked[i][0], ranked[j][0], ranked[i][1] - ranked[j][1]))
        candidates.sort(key=lambda c: (-c[2], c[0], c[1]))
    pairs = [PreferencePair(group, c, r, float(g)) for c, r, g in candidates if g > config.margin]
    if config.strategy == "margin" and config.max_pairs_per_prompt is not None:
        pairs = pairs[: config.max_pairs_per_prompt]
    return pairs


def build_pairs(group_ids: Sequence[int], responses: Sequence[str], scores: Sequence[float],
                config: Optional[PairConfig] = None) -> list[PreferencePair]:
    """Pairs for every prompt group; never across groups. Groups come out in order of first appearance."""
    config = config or PairConfig()
    gids = np.asarray(group_ids)
    vals = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not (len(gids) == len(responses) == len(vals)):
        raise ValueError(f"group_ids ({len(gids)}), responses ({len(responses)}) and scores ({len(vals)}) differ in length")
    groups: dict[int, list[int]] = {}
    for row, g in enumerate(gids.tolist()):
        groups.setdefault(g, []).append(row)
    out: list[PreferencePair] = []
    for g, rows in groups.items():
        out.extend(pairs_for_group(g, rows, responses, vals, config))
    return out


__all__ = ["PAIR_STRATEGIES", "PairConfig", "PreferencePair", "build_pairs", "pairs_for_group", "unique_rows"]
