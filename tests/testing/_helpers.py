"""Helpers for the stand-in engine tests."""
from __future__ import annotations

import asyncio
from typing import Any


def force_token(engine: Any, token_id: int, boost: float = 1e4) -> None:
    """Make ``token_id`` the model's overwhelming choice (a random tiny model never emits EOS)."""
    import torch

    def hook(_module, _inputs, logits):
        bump = torch.zeros(logits.shape[-1], dtype=logits.dtype)
        bump[token_id] = boost
        return logits + bump

    engine.model.lm_head.register_forward_hook(hook)


def collect(engine: Any, prompts: list[list[int]], params: Any) -> list[Any]:
    """Run concurrent generate() calls (like OpenRLHF's executors) and return the final outputs."""

    async def one(i: int, ids: list[int]) -> Any:
        final = None
        async for out in engine.generate({"prompt_token_ids": ids}, params, request_id=f"r{i}"):
            final = out
        return final

    async def main() -> list[Any]:
        return await asyncio.gather(*(one(i, ids) for i, ids in enumerate(prompts)))

    return asyncio.run(main())
