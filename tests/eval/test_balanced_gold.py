"""Gold per domain: balanced accuracy over labels in a classification domain (yes_no), plain accuracy
elsewhere, and the bootstrap interval drawing prompts within each label. Hand-computed expectations."""
import pytest

from laser_plugin.demo.data import gold_rows, gold_values
from laser_plugin.eval.metrics import bootstrap_ci, stratified_mean


def _yes_no(label: str, response: str) -> dict:
    return {"domain": "yes_no", "label": label, "response": response}


def test_stratified_mean_is_the_mean_of_stratum_means():
    assert stratified_mean([1.0, 0.0, 1.0, 1.0]) == 0.75
    assert stratified_mean({"no": [1.0, 1.0, 1.0], "yes": [0.0]}) == 0.5  # plain mean: 0.75


def test_a_constant_answer_scores_one_half_whatever_the_label_mix():
    # 15 "no" / 9 "yes" held-out prompts (the benchmark's): plain accuracy 0.625 for "No." everywhere, 0.375 for "Yes."
    for answer in ("No.", "Yes."):
        rows = [_yes_no("no", answer)] * 15 + [_yes_no("yes", answer)] * 9
        assert gold_rows(rows)["yes_no"] == 0.5
    right = [_yes_no("no", "No.")] * 3 + [_yes_no("yes", "Yes.")] + [_yes_no("yes", "No.")]
    assert gold_rows(right)["yes_no"] == pytest.approx((1.0 + 0.5) / 2)


def test_other_domains_keep_plain_accuracy_and_all_is_the_mean_over_domains():
    rows = [{"domain": "math", "label": "4", "response": "4"}, {"domain": "math", "label": "5", "response": "4"},
            {"domain": "math", "label": "4", "response": "4"}, _yes_no("no", "No."), _yes_no("no", "No."),
            _yes_no("yes", "No.")]
    assert gold_values(rows) == {"math": {"": [1.0, 0.0, 1.0]}, "yes_no": {"no": [1.0, 1.0], "yes": [0.0]}}
    out = gold_rows(rows)
    assert out["math"] == pytest.approx(2 / 3) and out["yes_no"] == 0.5
    assert out["all"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_bootstrap_draws_within_labels():
    # a constant answer: each label's resample is all right or all wrong, so every resample is exactly 0.5
    const = {s: {"yes_no": {"no": [1.0] * 15, "yes": [0.0] * 9}} for s in range(3)}
    assert bootstrap_ci(const, n_boot=200) == (0.5, 0.5)
    # scores without strata are drawn as before: one stratum gives the same interval as a plain list
    plain = {0: {"a": [1.0, 0.0, 1.0, 1.0], "b": [0.0, 1.0]}}
    one = {0: {"a": {"": [1.0, 0.0, 1.0, 1.0]}, "b": {"": [0.0, 1.0]}}}
    assert bootstrap_ci(plain, n_boot=200) == bootstrap_ci(one, n_boot=200)
