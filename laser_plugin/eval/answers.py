"""Answer extraction for verifiable tasks: numbers (GSM8K-style), yes/no (StrategyQA), multiple choice (MMLU).

LASeR's released code only printed RM scores; the paper's numbers are accuracies, so the answer must
be read out of free text. Extraction prefers an explicit marker ("The answer is ...", "Answer:",
"####", \\boxed{...}) and falls back to a kind-specific heuristic (last number; first yes/no word;
a standalone option letter). ``infer_kind`` guesses the kind from the label when none is given.
"""
from __future__ import annotations

import re
from typing import Any, Optional, Sequence

ANSWER_KINDS = ("number", "yes_no", "choice", "text")
_YES = {"yes", "true", "correct"}
_NO = {"no", "false", "incorrect"}
_NUM = r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?"
_MARKERS = [
    r"\\boxed\{([^{}]*)\}",
    r"####\s*([^\n]+)",
    # a "-" is a separator only when a space follows it ("answer - 7"); "answer is -11" keeps its sign
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)?\s*(?::|-(?=\s))?\s*([^\n]+)",
]
_LETTERS = "ABCDEFGHIJ"


def _marked(text: str) -> Optional[str]:
    """The text after the last explicit answer marker, if any."""
    for pattern in _MARKERS:
        hits = re.findall(pattern, text, flags=re.IGNORECASE)
        if hits:
            return hits[-1].strip()
    return None


def normalize_number(value: Any) -> Optional[str]:
    """'1,234.50' -> '1234.5', '$7' -> '7', '3/4' -> '0.75'; None when not a number."""
    s = str(value).strip().replace(",", "").replace("$", "").rstrip(".")
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            x = float(num) / float(den)
        else:
            x = float(s)
    except (ValueError, ZeroDivisionError):
        return None
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return str(int(x)) if x == int(x) else repr(round(x, 6))


def _number(text: str) -> Optional[str]:
    marked = _marked(text)
    for source in ([marked] if marked else []) + [text]:
        nums = re.findall(_NUM, source)
        if nums:
            # After a marker the first number is the answer; in free text the last one is.
            return normalize_number(nums[0] if source is marked else nums[-1])
    return None


def _yes_no(text: str) -> Optional[str]:
    marked = _marked(text)
    for source in ([marked] if marked else []) + [text]:
        for word in re.findall(r"[a-z]+", source.lower()):
            if word in _YES:
                return "yes"
            if word in _NO:
                return "no"
    return None


def _choice(text: str, choices: Optional[Sequence[str]] = None) -> Optional[str]:
    letters = _LETTERS[: len(choices)] if choices else "ABCDE"
    cls = f"[{letters}]"
    marked = _marked(text)
    # A parenthesised letter may be lower case ("(b)"); a bare one must be upper case ("a" is a word).
    patterns = [(rf"^\(?({cls})\)?(?:[\s.:)]|$)", 0), (rf"\(({cls})\)", re.I), (rf"\b({cls})\b", 0)]
    if marked:
        for pattern, flags in patterns:
            hit = re.search(pattern, marked, flags=flags)
            if hit:
                return hit.group(1).upper()
    for pattern, flags in ((rf"^\s*\(?({cls})[).:]", re.M), (rf"\(({cls})\)", re.I),
                           (rf"(?:option|choice)\s+({cls})\b", re.I)):
        hit = re.search(pattern, text, flags=flags)
        if hit:
            return hit.group(1).upper()
    if choices:  # the option's text itself, e.g. "Paris" for choices ["London", "Paris"]
        low = text.lower()
        found = [i for i, c in enumerate(choices) if str(c).strip() and str(c).strip().lower() in low]
        if len(found) == 1:
            return letters[found[0]]
    hit = re.search(rf"(?:^|\s)({cls})(?:[.)]|\s*$)", text.strip())
    return hit.group(1) if hit else None


def infer_kind(label: Any) -> str:
    """Guess the answer kind from a gold label."""
    if isinstance(label, bool):
        return "yes_no"
    s = str(label).strip()
    if s.lower() in _YES | _NO:
        return "yes_no"
    if re.fullmatch(r"\(?[A-Ja-j]\)?", s):
        return "choice"
    if normalize_number(s) is not None:
        return "number"
    return "text"


def normalize_label(label: Any, kind: str) -> Optional[str]:
    if kind == "yes_no":
        s = str(label).strip().lower()
        return "yes" if (label is True or s in _YES) else "no" if (label is False or s in _NO) else None
    if kind == "choice":
        return str(label).strip().strip("()").upper() or None
    if kind == "number":
        return normalize_number(label)
    return " ".join(str(label).lower().split())


def extract_answer(text: str, kind: str, choices: Optional[Sequence[str]] = None) -> Optional[str]:
    """The answer of ``kind`` found in ``text`` in canonical form, or None."""
    if kind not in ANSWER_KINDS:
        raise ValueError(f"answer kind {kind!r} not in {ANSWER_KINDS}")
    if kind == "number":
        return _number(text)
    if kind == "yes_no":
        return _yes_no(text)
    if kind == "choice":
        return _choice(text, choices)
    marked = _marked(text)
    return " ".join((marked if marked is not None else text).lower().split()).rstrip(".")


def is_correct(response: str, label: Any, kind: Optional[str] = None,
               choices: Optional[Sequence[str]] = None) -> bool:
    """Whether the answer extracted from ``response`` equals the gold ``label``."""
    kind = kind or infer_kind(label)
    gold = normalize_label(label, kind)
    if gold is None:
        return False
    pred = extract_answer(response, kind, choices)
    if kind == "text":
        return pred is not None and (pred == gold or gold in pred)
    return pred == gold


__all__ = ["ANSWER_KINDS", "extract_answer", "infer_kind", "is_correct", "normalize_label", "normalize_number"]
