"""Batched sampling with HF ``generate`` under vLLM ``SamplingParams`` semantics.

Requests whose sampling settings agree are left-padded into one ``generate`` call; each row is then
cut at its own ``max_tokens`` or at its first stop token (EOS / ``stop_token_ids``, kept in the output
as vLLM does). Logprobs follow vLLM's ``logprobs_mode``: ``raw_*`` from the model's logits, ``processed_*``
after temperature / top-k / top-p (HF's ``output_logits`` and ``output_scores``).
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Hashable

import torch

LOGPROBS_MODES = ("raw_logprobs", "raw_logits", "processed_logprobs", "processed_logits")

# SamplingParams fields this stand-in cannot honour, with the value that means "off".
_UNSUPPORTED_DEFAULTS: dict[str, Any] = {
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "min_p": 0.0,
    "prompt_logprobs": None,
    "structured_outputs": None,
}


@dataclass
class Completion:
    """One finished sample: generated ids (stop token included), why it ended, optional logprobs."""

    token_ids: list[int]
    finish_reason: str  # "stop" | "length"
    stop_reason: int | None = None  # the stop_token_ids entry that ended it (None for EOS)
    # Per generated token: {token_id: (value, rank)} for the sampled token and the top-k others.
    logprobs: list[dict[int, tuple[float, int]]] | None = None


@dataclass
class GenRequest:
    prompt_token_ids: list[int]
    params: Any  # vllm.SamplingParams
    max_tokens: int
    completions: list[Completion] = field(default_factory=list)


def check_supported(params: Any) -> None:
    """Fail loudly on sampling features the stand-in would otherwise silently ignore."""
    for name, off in _UNSUPPORTED_DEFAULTS.items():
        if getattr(params, name, off) not in (off, None, [], ()):
            value = getattr(params, name)
            raise NotImplementedError(f"vllm stand-in: SamplingParams.{name}={value!r} is not supported")
    if getattr(params, "stop", None):
        raise NotImplementedError("vllm stand-in: stop strings are not supported (use stop_token_ids)")
    if getattr(params, "bad_words", None):
        raise NotImplementedError("vllm stand-in: bad_words is not supported")


def sampling_key(params: Any) -> Hashable:
    """Requests with equal keys can share one ``generate`` call (max_tokens may differ per row)."""
    return (
        float(params.temperature),
        float(params.top_p),
        int(params.top_k or 0) if (params.top_k or 0) > 0 else 0,
        int(params.min_tokens or 0),
        bool(params.ignore_eos),
        tuple(params.stop_token_ids or ()),
        params.logprobs,
        float(getattr(params, "repetition_penalty", 1.0) or 1.0),
        params.seed,
    )


def _generation_config(params: Any, max_new_tokens: int, stop_ids: list[int], pad_id: int, want_scores: bool):
    from transformers import GenerationConfig

    greedy = params.temperature <= 1e-5  # vLLM: temperature 0 means greedy
    kwargs: dict[str, Any] = dict(
        do_sample=not greedy,
        max_new_tokens=max_new_tokens,
        min_new_tokens=int(params.min_tokens or 0) or None,
        eos_token_id=stop_ids or None,
        pad_token_id=pad_id,
        repetition_penalty=float(getattr(params, "repetition_penalty", 1.0) or 1.0),
        return_dict_in_generate=True,
        output_logits=want_scores,
        output_scores=want_scores,
    )
    if not greedy:
        kwargs.update(temperature=float(params.temperature), top_p=float(params.top_p))
        kwargs["top_k"] = int(params.top_k) if params.top_k and params.top_k > 0 else 0  # vLLM -1/0 = off
    return GenerationConfig(**kwargs)


def _row_logprobs(
    values: torch.Tensor, tokens: list[int], k: int, normalise: bool
) -> list[dict[int, tuple[float, int]]]:
    """values: (steps, vocab) logits/scores of one row; returns vLLM-style per-token dicts."""
    values = values.float()
    if normalise:
        values = torch.log_softmax(values, dim=-1)
    out = []
    for step, token in enumerate(tokens):
        row = values[step]
        entry = {token: (row[token].item(), int((row > row[token]).sum().item()) + 1)}
        if k > 0:
            top_vals, top_ids = torch.topk(row, k)
            for rank, (tid, val) in enumerate(zip(top_ids.tolist(), top_vals.tolist()), start=1):
                entry.setdefault(tid, (val, rank))
        out.append(entry)
    return out


@torch.no_grad()
def generate_batch(
    model: Any,
    requests: list[GenRequest],
    *,
    eos_ids: list[int],
    pad_id: int,
    logprobs_mode: str = "raw_logprobs",
) -> None:
    """Fill ``req.completions`` (``params.n`` each) for requests that share one ``sampling_key``."""
    params = requests[0].params
    rows = [(req, i) for req in requests for i in range(int(params.n or 1))]
    stop_ids = [] if params.ignore_eos else list(eos_ids)
    stop_ids += [t for t in (params.stop_token_ids or []) if t not in stop_ids]
    max_new = max(req.max_tokens for req, _ in rows)
    want_lp = params.logprobs is not None

    # Left-pad prompts to one tensor: generation continues from the right edge of every row.
    device = next(model.parameters()).device
    width = max(len(req.prompt_token_ids) for req, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long, device=device)
    attention = torch.zeros_like(input_ids)
    for r, (req, _) in enumerate(rows):
        n = len(req.prompt_token_ids)
        input_ids[r, width - n :] = torch.tensor(req.prompt_token_ids, dtype=torch.long)
        attention[r, width - n :] = 1

    config = _generation_config(params, max_new, stop_ids, pad_id, want_lp)
    rng = torch.random.fork_rng(devices=[]) if params.seed is not None else nullcontext()
    with rng:
        if params.seed is not None:
            torch.manual_seed(int(params.seed))
        out = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config)
    generated = out.sequences[:, width:].tolist()
    if want_lp:
        raw = logprobs_mode.startswith("raw")
        steps = torch.stack(out.logits if raw else out.scores, dim=1)  # (rows, steps, vocab)

    for r, (req, _) in enumerate(rows):
        tokens, finish, stop_reason = generated[r][: req.max_tokens], "length", None
        for pos, token in enumerate(tokens):
            if token in stop_ids:
                tokens, finish = tokens[: pos + 1], "stop"
                stop_reason = token if token not in eos_ids or params.ignore_eos else None
                break
        logprobs = None
        if want_lp:
            normalise = logprobs_mode.endswith("logprobs")  # *_logits modes return the values as they are
            logprobs = _row_logprobs(steps[r, : len(tokens)], tokens, int(params.logprobs), normalise)
        req.completions.append(Completion(tokens, finish, stop_reason, logprobs))

