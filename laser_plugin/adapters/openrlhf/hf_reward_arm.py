"""The ``hf:`` arm: an OpenRLHF/HF sequence-regression RM loaded through OpenRLHF's own loader.

Scoring paths:
* the RM shares the policy tokenizer and the batch carries policy token ids -> the ids go straight
  in (what OpenRLHF's RewardModelActor does);
* otherwise the RM reads text with its own tokenizer: ``batch.queries`` as serve_rm does, or, when
  the tokenizer differs from the policy's (or ``apply_chat_template`` is set), the (prompt, response)
  pair formatted with the RM's own chat template (``batch.extra["raw_prompts"]`` holds un-templated
  prompts when the caller has them).
Rows are length-sorted into micro-batches so padding stays small; outputs come back in input order.
"""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from laser_plugin.compat.dtype import resolve_param_dtype
from laser_plugin.pool.arms import RewardArm
from laser_plugin.pool.padding import pad_left
from laser_plugin.pool.specs import ArmSpec
from laser_plugin.pool.types import ScoringBatch


def _same_vocab(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if a is b:
        return True
    return a.get_vocab() == b.get_vocab() and a.pad_token_id == b.pad_token_id


def _check_weights(path: Path) -> None:
    """Weights present and their headers readable (cheap: no tensor is loaded)."""
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin weights in {path}")
    from safetensors import safe_open

    for f in files:
        if f.suffix == ".safetensors":
            with safe_open(str(f), framework="pt") as handle:
                if not list(handle.keys()):
                    raise ValueError(f"{f} holds no tensors")


class HFRewardArm(RewardArm):
    def __init__(self, spec: ArmSpec, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self.model: Optional[torch.nn.Module] = None
        self.tokenizer: Any = None
        self.shares_policy_tokenizer = False
        self.use_chat_template = False
        # A DeepSpeed-prepared model (ZeRO-3 across actors) cannot be moved: no residency for it.
        self.uses_device = self.strategy is None

    @property
    def loaded(self) -> bool:
        return self.model is not None

    @property
    def on_device(self) -> bool:
        if self.model is None:
            return False
        param = next(self.model.parameters(), None)
        want = torch.device(self.device)
        return param is not None and param.device.type == want.type and want.index in (None, param.device.index)

    def validate(self) -> None:
        from transformers import AutoConfig

        from openrlhf.utils import get_tokenizer

        AutoConfig.from_pretrained(self.spec.target, trust_remote_code=True)
        if Path(self.spec.target).is_dir():
            _check_weights(Path(self.spec.target))
        self.tokenizer = get_tokenizer(self.spec.tokenizer_path or self.spec.target, None, "left")
        self.shares_policy_tokenizer = self.spec.tokenizer_path is None and _same_vocab(
            self.tokenizer, self.policy_tokenizer
        )
        auto = self.policy_tokenizer is not None and not self.shares_policy_tokenizer
        wanted = auto if self.spec.apply_chat_template is None else self.spec.apply_chat_template
        self.use_chat_template = bool(wanted and getattr(self.tokenizer, "chat_template", None))
        if self.spec.apply_chat_template and not self.use_chat_template:
            raise ValueError(f"apply_chat_template requested but {self.spec.target} has no chat template")

    def load(self) -> None:
        if self.model is not None:  # offloaded to host memory: bring it back
            self.model.to(self.device)
            return
        if self.tokenizer is None:
            self.validate()
        from openrlhf.models import get_llm_for_sequence_regression

        ds_config = self.strategy.get_ds_eval_config(offload=False) if self.strategy is not None else None
        model = get_llm_for_sequence_regression(
            self.spec.target,
            "reward",
            param_dtype=resolve_param_dtype(self.spec.param_dtype),
            attn_implementation=self.spec.attn_implementation,
            normalize_reward=self.spec.normalize_reward,
            value_head_prefix=self.spec.value_head_prefix or "score",
            ds_config=ds_config,
        )
        # transformers 5.15 leaves the non-persistent mean/std buffers uninitialised after
        # from_pretrained; refill them from the config as the RM's __init__ intended.
        config = model.config
        with torch.no_grad():
            model.mean.fill_(float(getattr(config, "mean", 0.0)))
            model.std.fill_(float(getattr(config, "std", 1.0)))
        model.requires_grad_(False)
        if self.strategy is not None:
            model = self.strategy.prepare(model)
        else:
            model = model.to(self.device)
        model.eval()
        self.model = model

    def offload(self) -> None:
        if self.model is not None:
            self.model.to("cpu")

    def unload(self) -> None:
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def param_bytes(self) -> int:
        if self.model is None:
            return 0
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        return int(sum(t.numel() * t.element_size() for t in tensors))

    # ---------------------------------------------------------------- scoring
    def _texts(self, batch: ScoringBatch) -> list[str]:
        if not self.use_chat_template:
            return list(batch.queries)
        prompts = batch.extra.get("raw_prompts") or batch.prompts
        return [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
            )
            for p, r in zip(prompts, batch.responses)
        ]

    def _input_device(self) -> Any:
        # Under DeepSpeed follow RewardModelActor (current_device; "cpu" under the CPU shims).
        return torch.cuda.current_device() if self.strategy is not None else self.device

    def _rows(self, batch: ScoringBatch) -> list[torch.Tensor]:
        """Unpadded token ids per row in the RM's vocabulary."""
        if self.shares_policy_tokenizer and batch.sequences is not None:
            seqs = torch.as_tensor(batch.sequences)
            mask = batch.attention_mask
            mask = torch.as_tensor(mask).bool() if mask is not None else seqs.ne(self.tokenizer.pad_token_id)
            return [s[m] for s, m in zip(seqs, mask)]
        enc = self.tokenizer(
            self._texts(batch), add_special_tokens=False, truncation=True, max_length=self.spec.max_len
        )
        return [torch.tensor(ids, dtype=torch.long) for ids in enc["input_ids"]]

    @torch.no_grad()
    def score(self, batch: ScoringBatch, batch_size: int) -> np.ndarray:
        if self.model is None:
            self.load()
        rows = self._rows(batch)
        if any(r.numel() == 0 for r in rows):
            raise ValueError("a row has no tokens to score")
        order = np.argsort([-r.numel() for r in rows], kind="stable")
        out = np.empty(len(rows), dtype=np.float64)
        device = self._input_device()
        for start in range(0, len(rows), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = pad_left([rows[i] for i in idx], self.tokenizer.pad_token_id)
            reward = self.model(ids.to(device), mask.to(device))
            out[idx] = reward.float().cpu().numpy().reshape(-1)
        return out
