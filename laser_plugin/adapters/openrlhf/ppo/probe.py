"""The ``probe`` signal's trusted pairs, measured with OpenRLHF's actor in PPO/GRPO.

A probe set is a few trusted preference pairs (prompt, chosen, rejected), e.g. answers checked by
hand. After every policy update the actor scores both responses of each pair (the same remote
forward that upstream's experience maker uses for log-probs) and ``signals.probe_value`` turns the
pairs into one number, minus their DPO loss with the policy at the first measurement of this run
(start or resume) as the reference; the bandit is paid its rise across the step. Prompts are
formatted as the rollout prompts are (upstream's ``preprocess_data`` with ``--data.input_key`` /
``--data.input_template`` / ``--data.apply_chat_template``), so the probe measures the policy on the
inputs it trains on.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import torch


def read_probe_rows(path: str, input_key: str) -> list[dict]:
    """The rows of ``path`` (JSON list or JSONL), each checked for the prompt, chosen and rejected
    columns (the preflight calls this before any worker starts)."""
    from laser_plugin.records import read_records

    flag = "--reward_selector.probe_dataset"
    try:
        rows = read_records(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{flag} {path}: cannot read it as JSON/JSONL ({err}); give a local file of "
                         f"prompt/chosen/rejected rows") from None
    for i, row in enumerate(rows):
        missing = [k for k in (input_key, "chosen", "rejected") if not isinstance(row, dict) or k not in row]
        if missing:
            raise ValueError(f"{flag} {path}: row {i} lacks {missing}; each row needs the prompt column "
                             f"--data.input_key ({input_key!r}), 'chosen' and 'rejected'")
    if not rows:
        raise ValueError(f"{flag} {path} holds no pairs")
    return rows


def read_probe_pairs(path: str, args: Any, tokenizer: Any) -> list[tuple[str, str, str]]:
    """(formatted prompt, chosen, rejected) per row of ``path``."""
    from openrlhf.datasets.prompts_dataset import preprocess_data

    data = args.data
    template = tokenizer.apply_chat_template if getattr(data, "apply_chat_template", False) else None
    return [(preprocess_data(row, getattr(data, "input_template", None), data.input_key, None, template)[0],
             str(row["chosen"]), str(row["rejected"])) for row in read_probe_rows(path, data.input_key)]


def probe_tensors(pairs: list[tuple[str, str, str]], tokenizer: Any) -> dict[str, torch.Tensor]:
    """Rows [chosen_1..chosen_n, rejected_1..rejected_n] laid out as OpenRLHF's rollouts are: the
    prompt left-padded, the response (ending in EOS) right-padded, ``action_mask`` over the response
    positions (the actor's forward reads the last ``action_mask.size(1)`` positions as actions)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = [tokenizer(p, add_special_tokens=False)["input_ids"] for p, _, _ in pairs] * 2
    responses = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                 for r in [c for _, c, _ in pairs] + [r for _, _, r in pairs]]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses))
    seqs = torch.full((len(prompts), p_len + r_len), pad, dtype=torch.long)
    attention = torch.zeros_like(seqs)
    action = torch.zeros((len(prompts), r_len), dtype=torch.bool)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        seqs[i, p_len - len(p):p_len], attention[i, p_len - len(p):p_len] = torch.tensor(p), 1
        seqs[i, p_len:p_len + len(r)], attention[i, p_len:p_len + len(r)] = torch.tensor(r), 1
        action[i, :len(r)] = True
    return {"sequences": seqs, "attention_mask": attention, "action_mask": action}


class PolicyProbe:
    """The probe pairs, ready for the actor; ``value(log_probs)`` measures the policy now.
    ``log_probs(experiences)``: action log-probs per chunk, e.g. the maker's ``_policy_log_probs``."""

    def __init__(self, path: str, args: Any, tokenizer: Any, chunks: int = 1) -> None:
        pairs = read_probe_pairs(path, args, tokenizer)
        self.num_pairs = len(pairs)
        full = probe_tensors(pairs, tokenizer)
        # one chunk per data-parallel actor at least (upstream's batched dispatch needs as many)
        bounds = np.array_split(np.arange(2 * self.num_pairs), max(1, min(chunks, 2 * self.num_pairs)))
        self.chunks = [_Rows(**{k: v[idx] for k, v in full.items()}) for idx in bounds]
        self.reference: Optional[np.ndarray] = None  # sequence log-probs at the first measurement

    def value(self, log_probs: Callable[[list], list]) -> float:
        from laser_plugin.signals import probe_value

        per_chunk = zip(log_probs(self.chunks), self.chunks)
        sums = torch.cat([(lp.float() * c.action_mask).sum(dim=-1) for lp, c in per_chunk]).double().numpy()
        if self.reference is None:
            self.reference = sums
        ratios, n = sums - self.reference, self.num_pairs
        return probe_value(ratios[:n], ratios[n:])


class _Rows:
    """What ``LaserExperienceMaker._policy_log_probs`` reads from an experience."""

    def __init__(self, sequences: torch.Tensor, attention_mask: torch.Tensor, action_mask: torch.Tensor) -> None:
        self.sequences, self.attention_mask, self.action_mask = sequences, attention_mask, action_mask
