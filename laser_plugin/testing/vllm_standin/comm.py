"""A gloo stand-in for vLLM's ``PyNcclCommunicator`` (NCCL cannot exist on a CPU-only machine).

OpenRLHF's ``stateless_init_process_group`` builds a real vLLM ``StatelessProcessGroup`` (a TCPStore
rendezvous, which works on CPU) and wraps it in ``PyNcclCommunicator(group, device)``; both the trainer
(``--vllm.sync_backend`` weight broadcast) and the engine's ``WorkerWrap`` then call
``.broadcast(tensor, src, stream)``. This class keeps that constructor and method and carries the data
over a gloo group on the same store. Single host only: gloo binds to 127.0.0.1.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# Keeps our gloo keys apart from the ones vLLM's StatelessProcessGroup writes into the same store.
_STORE_PREFIX = "laser_standin_gloo"


class GlooCommunicator:
    """``PyNcclCommunicator(group, device=None, library_path=None)`` look-alike over gloo."""

    def __init__(self, group: Any, device: Any = None, library_path: str | None = None, timeout_s: float = 600.0):
        if not hasattr(group, "store"):
            raise TypeError("vllm stand-in: GlooCommunicator needs a vllm StatelessProcessGroup")
        self.rank: int = group.rank
        self.world_size: int = group.world_size
        self.device = torch.device("cpu")
        self.available = True
        self.disabled = False
        options = dist.ProcessGroupGloo._Options()
        options._timeout = timedelta(seconds=timeout_s)
        options._devices = [dist.ProcessGroupGloo.create_device(hostname="127.0.0.1")]
        store = dist.PrefixStore(_STORE_PREFIX, group.store)
        self._pg = dist.ProcessGroupGloo(store, self.rank, self.world_size, options)

    def broadcast(self, tensor: torch.Tensor, src: int, stream: Any = None) -> None:
        options = dist.BroadcastOptions()
        options.rootRank = src
        options.rootTensor = 0
        self._pg.broadcast([tensor], options).wait()

