"""Preference-pair strategies on hand-made scores: within-prompt only, dedup, margins, ties."""
import numpy as np
import pytest

from laser_plugin.dpo.preference import PairConfig, build_pairs


def _pairs(cfg, groups, responses, scores):
    return [(p.group, p.chosen, p.rejected, round(p.gap, 6)) for p in build_pairs(groups, responses, scores, cfg)]


GROUPS = [0, 0, 0, 0, 1, 1, 1, 1]
RESP = ["a", "b", "c", "d", "e", "f", "g", "h"]
SCORES = [0.1, 0.9, 0.5, 0.3, 2.0, -1.0, 0.0, 1.0]


def test_best_worst_one_pair_per_prompt_never_across_prompts():
    assert _pairs(PairConfig("best_worst"), GROUPS, RESP, SCORES) == [(0, 1, 0, 0.8), (1, 4, 5, 3.0)]


def test_top_bottom_k_disjoint_pairs_and_k_capped_at_half():
    cfg = PairConfig("top_bottom_k", k=2)
    # prompt 0 ranked: b .9, c .5, d .3, a .1 -> (b,a), (c,d); prompt 1: e 2, h 1, g 0, f -1 -> (e,f), (h,g)
    assert _pairs(cfg, GROUPS, RESP, SCORES) == [(0, 1, 0, 0.8), (0, 2, 3, 0.2), (1, 4, 5, 3.0), (1, 7, 6, 1.0)]
    assert len(build_pairs(GROUPS, RESP, SCORES, PairConfig("top_bottom_k", k=10))) == 4


def test_margin_all_pairs_above_gap_widest_first_and_capped():
    scores = [0.125, 1.0, 0.5, 0.25]  # binary fractions: exact gaps
    got = _pairs(PairConfig("margin", margin=0.3), [0, 0, 0, 0], RESP[:4], scores)
    assert got == [(0, 1, 0, 0.875), (0, 1, 3, 0.75), (0, 1, 2, 0.5), (0, 2, 0, 0.375)]
    capped = build_pairs([0] * 4, RESP[:4], scores, PairConfig("margin", margin=0.3, max_pairs_per_prompt=2))
    assert [(p.chosen, p.rejected) for p in capped] == [(1, 0), (1, 3)]


def test_margin_applies_to_every_strategy_and_ties_make_no_pair():
    assert build_pairs([0, 0], ["x", "y"], [1.0, 1.0]) == []
    assert build_pairs([0, 0], ["x", "y"], [1.0, 1.5], PairConfig("best_worst", margin=0.5)) == []
    assert len(build_pairs([0, 0], ["x", "y"], [1.0, 1.6], PairConfig("best_worst", margin=0.5))) == 1


def test_identical_responses_are_deduplicated_before_pairing():
    # "same" twice (whitespace differs): merged, mean score 0.5; the only other answer scores 0.4.
    groups, resp, scores = [0, 0, 0], ["the same", " the  same ", "other"], [0.0, 1.0, 0.4]
    pairs = build_pairs(groups, resp, scores, PairConfig("margin"))
    assert [(p.chosen, p.rejected) for p in pairs] == [(0, 2)] and pairs[0].gap == pytest.approx(0.1)
    # All samples identical -> nothing to learn, no pair.
    assert build_pairs([0, 0, 0], ["a", "a", "a "], [0.0, 1.0, 2.0]) == []
    # Without dedup the duplicates are separate candidates (best 1.0 vs worst 0.0, the same text).
    assert len(build_pairs(groups, resp, scores, PairConfig(dedup=False))) == 1


def test_non_finite_scores_are_ignored():
    pairs = build_pairs([0, 0, 0], ["a", "b", "c"], [np.nan, 0.2, 0.7])
    assert [(p.chosen, p.rejected) for p in pairs] == [(2, 1)]


def test_config_validation():
    with pytest.raises(ValueError, match="pair strategy"):
        PairConfig("best_of_all")
    with pytest.raises(ValueError, match="margin"):
        PairConfig(margin=-1)
    with pytest.raises(ValueError, match="k must"):
        PairConfig("top_bottom_k", k=0)
    with pytest.raises(ValueError, match="length"):
        build_pairs([0, 0], ["a"], [1.0, 2.0])
