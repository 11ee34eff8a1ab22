"""CPU stand-in for flash-attn's varlen attention: per-sequence SDPA over a packed batch.

OpenRLHF's ``--ds.packing_samples`` (forced on by ``--train.dynamic_batch_enable`` and ring
attention) removes the padding and concatenates a micro-batch into one row, ``[1, total_tokens]``,
with ``position_ids`` restarting at 0 for every sequence and no attention mask; it then switches
``--ds.attn_implementation`` to ``flash_attention_2``, whose varlen kernel keeps each sequence's
attention inside that sequence. flash-attn has no CPU kernel, so transformers refuses to load such
a model on CPU (``FlashAttention2 ... is not available on CPU``).

:func:`install` (called by ``laser_plugin.compat.cpu`` on CPU-only machines, never where CUDA
exists) registers :data:`NAME` with transformers' ``AttentionInterface`` (the function below) and
``AttentionMaskInterface`` (flash-attn's own 2-D mask handling), and makes a ``flash_attention_N``
request resolve to it. The function finds the sequences the way flash-attn's varlen path does:
from the 2-D padding mask when there is one (each row's unpadded tokens), else from the restarts
of ``position_ids`` (packed rows), and runs causal ``scaled_dot_product_attention`` on each
sequence alone. The result equals attention over the unpacked, padded batch (tested within fp
tolerance); padding positions get zeros, as flash-attn's ``pad_input`` gives them.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import torch
import torch.nn.functional as F

NAME = "laser_varlen_sdpa"
_FLASH = re.compile(r"^(paged\|)?flash_attention_\d$")
_INSTALLED = False


def sequence_spans(length: int, attention_mask: Optional[torch.Tensor], position_ids: Optional[torch.Tensor],
                   row: int) -> list[torch.Tensor]:
    """Token indices of each sequence in one row of the batch."""
    if attention_mask is not None and attention_mask.dim() == 2:
        valid = torch.nonzero(attention_mask[row].bool(), as_tuple=False).flatten()
        return [valid] if valid.numel() else []
    if position_ids is not None:
        pos = position_ids[row if position_ids.shape[0] > 1 else 0].reshape(-1)[:length]
        starts = torch.nonzero(torch.diff(pos, prepend=pos[:1] - 2) != 1, as_tuple=False).flatten().tolist()
        bounds = [*starts, length]
        return [torch.arange(a, b, device=pos.device) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    return [torch.arange(length)]


def varlen_sdpa_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    dropout: float = 0.0,
    scaling: Optional[float] = None,
    position_ids: Optional[torch.Tensor] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention interface: q/k/v ``[B, H, L, D]`` -> (output ``[B, L, H, D]``, None)."""
    if attention_mask is not None and attention_mask.dim() == 4:  # an explicit 4-D mask: plain SDPA
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention: repeat the key/value heads
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    length = query.shape[2]
    out = torch.zeros_like(query)
    dropout_p = dropout if module.training else 0.0
    for row in range(query.shape[0]):
        for idx in sequence_spans(length, attention_mask, position_ids, row):
            out[row, :, idx] = F.scaled_dot_product_attention(
                query[row:row + 1, :, idx], key[row:row + 1, :, idx], value[row:row + 1, :, idx],
                is_causal=True, dropout_p=dropout_p, scale=scaling,
            )[0]
    return out.transpose(1, 2).contiguous(), None


def install() -> bool:
    """Register the fallback and route ``flash_attention_N`` requests to it (CPU only; idempotent)."""
    global _INSTALLED
    if _INSTALLED or torch.cuda.is_available():
        return False
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, flash_attention_mask
    from transformers.modeling_utils import PreTrainedModel

    AttentionInterface.register(NAME, varlen_sdpa_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, flash_attention_mask)
    original = PreTrainedModel._check_and_adjust_attn_implementation

    def check_and_adjust(self: Any, attn_implementation: Optional[str], *args: Any, **kwargs: Any) -> str:
        if isinstance(attn_implementation, str) and _FLASH.match(attn_implementation):
            attn_implementation = NAME
        return original(self, attn_implementation, *args, **kwargs)

    PreTrainedModel._check_and_adjust_attn_implementation = check_and_adjust  # type: ignore[method-assign]
    _INSTALLED = True
    return True
