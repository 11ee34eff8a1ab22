"""Scoring a round's samples through the bandit pool, and LASeR's policy context (no OpenRLHF here).

One ``BanditRewardPool.score`` call per scoring batch of ``score_batch_size`` prompts with all their
N samples: in "batch" granularity that call is one bandit decision (LASeR: one RM per batch), in
"group" granularity with ``group_ids`` = prompt it is one decision per prompt. Only the chosen RM runs.

Context (LASeR Sec. 3.1): the policy's final hidden state at each prompt's last token, projected and
L2-normalised with a bias by the core ``ContextFeaturizer``; the pool averages the rows of a decision
unit, giving the paper's batch-mean context (the released code averaged input embeddings including
padding; this pooling is mask-aware).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from laser_plugin.pool.padding import pad_left
from laser_plugin.pool.types import ScoringBatch


@dataclass
class ScoredSamples:
    rewards: np.ndarray  # per-arm normalised, float32 [S]
    raw: np.ndarray  # raw scores of the arm that scored each sample [S] (NaN where several did)
    arms: np.ndarray  # int64 [S], -1: an ensemble
    decision_ids: np.ndarray  # int64 [S]
    seconds: float = 0.0
    decisions: list[dict[str, Any]] = field(default_factory=list)  # one entry per decision (for logs)
    explored: list[dict[str, Any]] = field(default_factory=list)  # exploring picks, feedback only (for logs)
    abstained: set[int] = field(default_factory=set)  # decisions whose scores must not train (core.exploration)


def scoring_batch(items: Sequence[Any], pidx: np.ndarray, responses: Sequence[str], rows: np.ndarray,
                  has_labels: bool, sequences: Optional[Sequence[torch.Tensor]] = None, pad_id: int = 0) -> ScoringBatch:
    """The pool's batch of samples ``rows`` (group = prompt index)."""
    ps = [items[int(pidx[r])] for r in rows]
    batch = ScoringBatch(
        queries=[p.prompt + responses[r] for p, r in zip(ps, rows)],
        prompts=[p.prompt for p in ps],
        responses=[responses[r] for r in rows],
        labels=[p.label for p in ps] if has_labels else None,
        group_ids=pidx[rows],
        extra={"raw_prompts": [p.raw for p in ps]} if all(isinstance(p.raw, str) for p in ps) else {},
    )
    if sequences is not None:
        batch.sequences, batch.attention_mask = pad_left([sequences[r] for r in rows], pad_id)
    return batch


def score_samples(bandit: Any, items: Sequence[Any], prompt_index: Sequence[int], responses: Sequence[str],
                  score_batch_size: int, contexts: Optional[np.ndarray] = None,
                  sequences: Optional[Sequence[torch.Tensor]] = None, pad_id: int = 0,
                  after_call: Optional[Callable[[ScoringBatch, Any], None]] = None) -> ScoredSamples:
    """Score every sample; ``items[p]`` has ``prompt`` (formatted), ``raw`` and ``label``;
    ``contexts``: one row per prompt (None: the pool's own text encoder). ``after_call(batch,
    result)`` runs after each pool call, before the next one selects: feedback available at scoring
    time (the audit, the verifier) then reaches the bandit within the round."""
    import time

    start = time.perf_counter()
    pidx = np.asarray(prompt_index, dtype=np.int64)
    n = len(pidx)
    out = ScoredSamples(np.zeros(n, np.float32), np.full(n, np.nan), np.zeros(n, np.int64), np.zeros(n, np.int64))
    prompts_in_order = list(dict.fromkeys(pidx.tolist()))
    has_labels = any(getattr(items[p], "label", None) not in (None, "") for p in prompts_in_order)
    for c in range(0, len(prompts_in_order), score_batch_size):
        chunk = set(prompts_in_order[c:c + score_batch_size])
        rows = np.flatnonzero(np.isin(pidx, list(chunk)))
        batch = scoring_batch(items, pidx, responses, rows, has_labels, sequences, pad_id)
        ctx = None if contexts is None else np.asarray(contexts)[pidx[rows]]
        res = bandit.score(batch, ctx)
        if after_call is not None:
            after_call(batch, res)
        out.rewards[rows] = res.rewards
        out.arms[rows] = res.arms
        out.decision_ids[rows] = res.decision_ids
        if res.raw_scores is not None and np.ndim(res.raw_scores) == 1:
            out.raw[rows] = res.raw_scores
        for d in np.unique(res.decision_ids):
            sel = rows[res.decision_ids == d]
            out.decisions.append({"decision": int(d), "arm": int(out.arms[sel[0]]), "prompts": sorted(set(pidx[sel].tolist())),
                                  "samples": int(len(sel))})
        out.abstained.update(int(d) for d in (res.info or {}).get("abstained", ()))
        for e in (res.info or {}).get("explored", ()):
            sel = rows[np.asarray(e["rows"])]
            out.explored.append({"decision": int(e["decision"]), "arm": int(e["arm"]),
                                 "prompts": sorted(set(pidx[sel].tolist())), "samples": int(len(sel))})
    out.seconds = time.perf_counter() - start
    return out


@torch.no_grad()
def policy_contexts(hf_model: Any, tokenizer: Any, prompts: Sequence[str], featurizer: Any,
                    batch_size: int = 16, max_len: int = 512) -> np.ndarray:
    """[P, d] contexts: the policy's last-layer hidden state at each prompt's last real token."""
    was_training = hf_model.training
    hf_model.eval()
    device = next(hf_model.parameters()).device
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    rows = []
    # Only the hidden states are used: logits for one position instead of every prompt token skip most
    # of the LM head (a fifth of a small model's FLOPs) and a [batch, tokens, vocab] tensor.
    import inspect

    trim = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(hf_model.forward).parameters else {}
    try:
        for s in range(0, len(prompts), batch_size):
            enc = tokenizer(list(prompts[s:s + batch_size]), return_tensors="pt", padding=True, truncation=True,
                            max_length=max_len, add_special_tokens=False)
            out = hf_model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device),
                           output_hidden_states=True, **trim)
            hidden = out.hidden_states[-1].float().cpu()
            rows.append(np.asarray(featurizer(hidden, enc["attention_mask"]), dtype=np.float64))
    finally:
        tokenizer.padding_side = old_side
        hf_model.train(was_training)
    return np.concatenate(rows, axis=0)


__all__ = ["ScoredSamples", "policy_contexts", "score_samples"]
