"""Left padding of token-id rows, the layout OpenRLHF's reward models read (reward at the last
non-pad position)."""
from __future__ import annotations

from typing import Sequence

import torch


def pad_left(rows: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unpadded 1-D id rows -> (ids [N, T], attention_mask [N, T]), left-padded with ``pad_id``."""
    width = max(int(r.numel()) for r in rows)
    ids = torch.full((len(rows), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - r.numel():] = r
        mask[i, width - r.numel():] = 1
    return ids, mask
