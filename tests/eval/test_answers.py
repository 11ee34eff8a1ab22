"""Answer extraction (numbers, yes/no, multiple choice) and per-domain metrics on hand-made texts."""
import pytest

from laser_plugin.eval.answers import extract_answer, infer_kind, is_correct, normalize_number
from laser_plugin.eval.metrics import accuracy_by_domain, arm_share_by_domain


@pytest.mark.parametrize("text,expected", [
    ("12 + 7 = 19", "19"),
    ("She has 3 apples, then buys 4 more. The answer is 7.", "7"),
    ("The answer is 1,234 dollars, not 5.", "1234"),
    ("#### 42", "42"),
    ("so the result is \\boxed{3/4}", "0.75"),
    ("Final answer: $18.00", "18"),
    ("x = -5", "-5"),
    ("no digits here", None),
])
def test_number_extraction(text, expected):
    assert extract_answer(text, "number") == expected


@pytest.mark.parametrize("text,expected", [
    ("Yes, the sky is blue.", "yes"),
    ("No. Fish cannot fly.", "no"),
    ("Let me think... penguins are birds. So the answer is no.", "no"),
    ("Answer: True", "yes"),
    ("I am not sure", None),
])
def test_yes_no_extraction(text, expected):
    assert extract_answer(text, "yes_no") == expected


@pytest.mark.parametrize("text,expected", [
    ("The answer is (B).", "B"),
    ("B. Paris is the capital.", "B"),
    ("Answer: C", "C"),
    ("I would choose option D because ...", "D"),
    ("A cat is an animal, so (C) is right", "C"),
    ("hmm", None),
])
def test_choice_extraction(text, expected):
    assert extract_answer(text, "choice") == expected


def test_choice_by_option_text():
    assert extract_answer("It is Paris, of course.", "choice", choices=["London", "Paris", "Rome"]) == "B"


def test_infer_kind_and_is_correct():
    assert [infer_kind(x) for x in ("19", "yes", True, "(c)", "Paris", "1,000")] == \
        ["number", "yes_no", "yes_no", "choice", "text", "number"]
    assert is_correct("So the answer is 19.", "19")
    assert is_correct("19.0 in total", 19)
    assert not is_correct("The answer is 18.", "19")
    assert is_correct("Yes, definitely.", "yes") and not is_correct("No way.", True)
    assert is_correct("The answer is (b)", "B")
    assert is_correct("I think it is Paris.", "paris")
    assert normalize_number("1,234.50") == "1234.5"


def test_accuracy_and_arm_share_by_domain():
    recs = [{"domain": "math", "correct": True, "arm": "rm_a"}, {"domain": "math", "correct": False, "arm": "rm_b"},
            {"domain": "qa", "correct": True, "arm": "rm_a"}, {"correct": False, "arm": "rm_a"}]
    acc = accuracy_by_domain(recs)
    assert acc["math"]["accuracy"] == 0.5 and acc["qa"]["accuracy"] == 1.0 and acc["default"]["n"] == 1
    assert acc["all"] == {"n": 4.0, "correct": 2.0, "accuracy": 0.5}
    assert list(acc)[-1] == "all"
    share = arm_share_by_domain(recs)
    assert share["math"] == {"rm_a": 0.5, "rm_b": 0.5} and share["all"]["rm_a"] == 0.75


def test_negative_numbers_keep_their_sign_after_an_answer_marker():
    from laser_plugin.eval.answers import extract_answer

    assert extract_answer("The answer is -11", "number") == "-11"
    assert extract_answer("Answer: -3.5", "number") == "-3.5"
    assert extract_answer("answer - 7", "number") == "7"  # a spaced dash is a separator


def test_balanced_accuracy_is_the_mean_of_each_labels_accuracy():
    """A policy answering "no" to everything on 3 no / 1 yes questions: accuracy 0.75, balanced 0.5
    (no: 3/3, yes: 0/1); a domain without strata gets no balanced accuracy."""
    recs = [{"domain": "yes_no", "correct": c, "stratum": s} for c, s in ((1, "no"), (1, "no"), (1, "no"), (0, "yes"))]
    acc = accuracy_by_domain(recs + [{"domain": "math", "correct": True}])
    assert acc["yes_no"]["accuracy"] == 0.75 and acc["yes_no"]["balanced_accuracy"] == 0.5
    assert "balanced_accuracy" not in acc["math"] and "balanced_accuracy" not in acc["all"]
