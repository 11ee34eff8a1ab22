"""Sampling N responses per prompt from the current policy: HF generate (CPU twin) or OpenRLHF's vLLM engines.

Temperature sampling is the point: LASeR's released code generated greedily, so all N samples were
identical and no preference pair could exist. Both paths take templated prompt texts and return, per
sample, the prompt index, the response text, and (HF path) policy-tokenizer ids ending at EOS so an
RM that shares the tokenizer scores exactly what was generated.

The vLLM path uses OpenRLHF's ``create_vllm_engines`` / ``RolloutRayActor.generate``; after each round
the engines are rebuilt from the round's saved HF checkpoint (no NCCL weight sync outside PPO's actor
group). It needs a GPU and is not exercised by the CPU tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from tqdm import tqdm


@dataclass
class SamplingConfig:
    n_samples_per_prompt: int = 4
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 64
    prompt_max_len: int = 512
    batch_size: int = 32  # sequences per HF generate call
    seed: int = 0
    # Prefill each prompt once and copy its KV cache to its N samples (HF's num_return_sequences
    # copies the prompt first and prefills it N times); same distribution, 1/N of the prefill work.
    share_prefix: bool = True

    def __post_init__(self) -> None:
        if self.n_samples_per_prompt < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("n_samples_per_prompt, max_new_tokens and batch_size must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"temperature must be >= 0 and top_p in (0, 1], got {self.temperature}, {self.top_p}")


@dataclass
class Samples:
    prompt_index: list[int]
    responses: list[str]
    sequences: Optional[list[torch.Tensor]] = None  # unpadded prompt+response ids per sample
    response_lengths: list[int] = field(default_factory=list)


def _hf_module(model: Any) -> Any:
    """The transformers model inside OpenRLHF's Actor / a DeepSpeed engine / itself (a plain HF
    causal LM also has a ``.model`` attribute, its backbone, so unwrap by type, not by attribute)."""
    from deepspeed import DeepSpeedEngine
    from openrlhf.models import Actor

    inner = model.model if isinstance(model, Actor) else model
    return inner.module if isinstance(inner, DeepSpeedEngine) else inner


def _prefilled_cache(hf: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, copies: int) -> Any:
    """KV cache of every prompt token but the last (generate computes the last one itself, and needs
    it to draw the first response token), prefilled once per prompt and repeated ``copies`` times
    row-wise. Positions follow the left padding the way ``generate`` computes them."""
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = hf(input_ids=input_ids[:, :-1], attention_mask=attention_mask[:, :-1],
             position_ids=positions[:, :-1], use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(copies)
    return cache


@torch.no_grad()
def hf_generate(model: Any, tokenizer: Any, prompts: list[str], config: SamplingConfig,
                desc: str = "sampling", disable_progress: bool = False) -> Samples:
    """N samples per prompt with ``generate`` (temperature 0 means greedy, one distinct sample)."""
    hf = _hf_module(model)
    was_training = hf.training
    hf.eval()
    device = next(hf.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    n = config.n_samples_per_prompt
    share = config.share_prefix and n > 1 and config.temperature > 0
    # With a shared prefix a chunk holds whole prompts: batch_size // n of them (at least one).
    step = max(1, config.batch_size // n) * n if share else config.batch_size
    rows = [i for i in range(len(prompts)) for _ in range(n)]
    out = Samples(prompt_index=[], responses=[], sequences=[], response_lengths=[])
    torch.manual_seed(config.seed)  # per-round seed: a resumed run samples what the original did
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in tqdm(range(0, len(rows), step), desc=desc, disable=disable_progress):
            chunk = rows[start:start + step]
            enc = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True, truncation=True,
                            max_length=config.prompt_max_len, add_special_tokens=False)
            ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
            greedy = config.temperature == 0
            extra = {}
            if share and ids.shape[1] > 1:
                extra["past_key_values"] = _prefilled_cache(hf, ids[::n], mask[::n], n)
            gen = hf.generate(
                input_ids=ids, attention_mask=mask,
                max_new_tokens=config.max_new_tokens, do_sample=not greedy,
                temperature=None if greedy else config.temperature, top_p=None if greedy else config.top_p,
                eos_token_id=eos, pad_token_id=pad, **extra,
            ).cpu()
            width = enc["input_ids"].shape[1]
            for j, i in enumerate(chunk):
                resp = gen[j, width:]
                ends = (resp == eos).nonzero()
                length = int(ends[0]) + 1 if len(ends) else int(resp.numel())  # keep the EOS token
                prompt_ids = enc["input_ids"][j][enc["attention_mask"][j].bool()]
                out.prompt_index.append(i)
                out.responses.append(tokenizer.decode(resp[:length], skip_special_tokens=True).strip())
                out.sequences.append(torch.cat([prompt_ids, resp[:length]]))
                out.response_lengths.append(length)
    finally:
        tokenizer.padding_side = old_side
        hf.train(was_training)
    return out


class VLLMSampler:
    """OpenRLHF's vLLM engines (GPU only). ``refresh(path)`` rebuilds them from a new checkpoint."""

    def __init__(self, model_path: str, num_engines: int = 1, tensor_parallel_size: int = 1, seed: int = 0,
                 max_model_len: int = 4096, gpu_memory_utilization: float = 0.5, enforce_eager: bool = False) -> None:
        self.kwargs = dict(num_engines=num_engines, tensor_parallel_size=tensor_parallel_size, seed=seed,
                           full_determinism=False, enable_prefix_caching=True, enforce_eager=enforce_eager,
                           max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization)
        self.engines: list[Any] = []
        self.refresh(model_path)

    def refresh(self, model_path: str) -> None:
        import ray
        from openrlhf.trainer.ray.vllm_engine import create_vllm_engines

        if not ray.is_initialized():
            ray.init()  # a local cluster on this node (or RAY_ADDRESS) for OpenRLHF's engine actors
        for engine in self.engines:
            ray.kill(engine)
        self.engines = create_vllm_engines(pretrain=model_path, **self.kwargs)

    def generate(self, tokenizer: Any, prompts: list[str], config: SamplingConfig) -> Samples:
        import ray
        from vllm import SamplingParams

        params = SamplingParams(n=config.n_samples_per_prompt, temperature=config.temperature, top_p=config.top_p,
                                max_tokens=config.max_new_tokens, seed=config.seed)
        ids = tokenizer(prompts, add_special_tokens=False, truncation=True, max_length=config.prompt_max_len)["input_ids"]
        refs = [self.engines[i % len(self.engines)].generate.remote(p, params) for i, p in enumerate(ids)]
        out = Samples(prompt_index=[], responses=[])
        for i, request in enumerate(ray.get(refs)):
            for completion in request.outputs:
                out.prompt_index.append(i)
                out.responses.append(completion.text.strip())
                out.response_lengths.append(len(completion.token_ids))
        out.sequences = None  # RMs re-tokenise text on this path
        return out


__all__ = ["SamplingConfig", "Samples", "VLLMSampler", "hf_generate"]
