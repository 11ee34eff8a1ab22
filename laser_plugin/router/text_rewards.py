"""Off-the-shelf text scorers as ``func:`` reward arms (OpenRLHF ``reward_func`` signature), for
routing demos on real preference data when no trained reward model is at hand. Pick one with the
pool file's ``func_kwargs: {"kind": ...}``:

* ``length``: log of the response length in words (the classic length bias);
* ``sentiment``: VADER compound polarity of the response (PyPI ``vaderSentiment``);
* ``relevance``: cosine of all-MiniLM-L6-v2 embeddings of prompt and response;
* ``caution``: counts hedging / refusal phrases (rewards declining harmful requests, penalises helpfulness).
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

KINDS = ("length", "sentiment", "relevance", "caution")
_CAUTION = re.compile(r"\b(sorry|cannot|can't|won't|not sure|i don't know|unsafe|illegal|harm\w*|"
                      r"recommend|careful|instead|apolog\w+|honest\w*)\b", re.I)


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _minilm() -> Any:
    from sentence_transformers import SentenceTransformer

    from laser_plugin.router.encoders import minilm_path

    return SentenceTransformer(minilm_path(), device="cpu")


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], kind: str = "length", **_: Any) -> list[float]:
    if kind not in KINDS:
        raise ValueError(f"text_rewards: kind must be one of {KINDS}, got {kind!r}")
    responses = [q[len(p):] if q.startswith(p) else q for q, p in zip(queries, prompts)]
    if kind == "length":
        return [math.log1p(len(r.split())) for r in responses]
    if kind == "sentiment":
        return [float(_vader().polarity_scores(r)["compound"]) for r in responses]
    if kind == "caution":
        return [float(len(_CAUTION.findall(r))) for r in responses]
    model = _minilm()
    a = model.encode(list(prompts), normalize_embeddings=True)
    b = model.encode(responses, normalize_embeddings=True)
    return [float(x @ y) for x, y in zip(a, b)]
