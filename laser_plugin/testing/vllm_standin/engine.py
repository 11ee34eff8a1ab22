"""``StandInAsyncLLMEngine``: the ``vllm.AsyncLLMEngine`` surface OpenRLHF 0.11.2 uses, on HF ``generate``.

Real vLLM pieces are used wherever they run on CPU: the engine is built from the real
``vllm.AsyncEngineArgs`` (so bad engine kwargs fail as they would on a GPU), consumes the real
``SamplingParams`` and returns real ``RequestOutput`` / ``CompletionOutput`` / ``Logprob`` objects.

Scheduling: ``generate()`` queues a request and awaits it; one asyncio task drains the queue, waiting
until the queue has not grown for ``batch_window_s`` so concurrent requests (OpenRLHF fires
``n_samples_per_prompt`` x prompts at once) share one batched ``generate`` call per group of equal
sampling settings, however slowly a loaded machine delivers them. Model work (generation and
``collective_rpc`` weight updates) runs on one worker thread, so a weight update never lands in the
middle of a batch and the Ray actor's event loop stays responsive.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import torch

from laser_plugin.compat.dtype import torch_dtype as cpu_torch_dtype
from laser_plugin.testing.vllm_standin.generation import (
    LOGPROBS_MODES,
    GenRequest,
    check_supported,
    generate_batch,
    sampling_key,
)
from laser_plugin.testing.vllm_standin.worker import call_worker, make_worker

_DTYPES = {"float16": torch.float16, "float32": torch.float32}


@dataclass
class _Pending:
    request_id: str
    gen: GenRequest
    prompt_text: str | None
    key: Any  # sampling_key: requests with equal keys share a generate() call
    future: asyncio.Future = field(repr=False)


class _OutputProcessor:
    """``engine.output_processor.get_num_unfinished_requests()`` (OpenRLHF's load balancing)."""

    def __init__(self, engine: "StandInAsyncLLMEngine") -> None:
        self._engine = engine

    def get_num_unfinished_requests(self) -> int:
        return len(self._engine._queue) + self._engine._running


class StandInAsyncLLMEngine:
    """CPU stand-in for ``vllm.AsyncLLMEngine`` (single worker, tensor_parallel_size 1)."""

    batch_window_s = 0.1  # quiet period that ends a burst (see _gather_burst)
    max_gather_s = 2.0
    max_batch_rows = 64

    def __init__(self, engine_args: Any) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        if int(getattr(engine_args, "tensor_parallel_size", 1) or 1) != 1:
            raise NotImplementedError("vllm stand-in: tensor_parallel_size > 1 is not supported")
        self.engine_args = engine_args
        # OpenRLHF asks vLLM for "bfloat16" unconditionally (a GPU choice); on CPU bf16 follows the CPU
        # dtype policy, which the launcher sets from --ds.param_dtype so the actor's weight updates match.
        dtype = getattr(engine_args, "dtype", "auto")
        if isinstance(dtype, torch.dtype):
            dtype = {torch.bfloat16: "bfloat16"}.get(dtype, dtype)
        self.dtype = dtype if isinstance(dtype, torch.dtype) else _DTYPES.get(str(dtype)) or cpu_torch_dtype()
        self.logprobs_mode = str(getattr(engine_args, "logprobs_mode", None) or "raw_logprobs")
        if self.logprobs_mode not in LOGPROBS_MODES:
            raise ValueError(f"vllm stand-in: unknown logprobs_mode {self.logprobs_mode!r}")
        trust = bool(getattr(engine_args, "trust_remote_code", False))
        path = engine_args.model
        tokenizer_path = getattr(engine_args, "tokenizer", None) or path
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=trust)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, trust_remote_code=trust).eval()
        # vLLM stops on the tokenizer's EOS and the generation config's EOS ids; capture them, then give
        # generate() an empty config so HF never re-inserts defaults (EOS, top_k=50) behind our back.
        eos = self.model.generation_config.eos_token_id
        eos = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.insert(0, self.tokenizer.eos_token_id)
        self.eos_ids: list[int] = eos
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (eos[0] if eos else 0)
        self.model.generation_config = GenerationConfig()
        max_len = getattr(engine_args, "max_model_len", None) or self.model.config.max_position_embeddings
        self.max_model_len = int(max_len)
        self.max_logprobs = int(getattr(engine_args, "max_logprobs", 20) or 20)
        seed = getattr(engine_args, "seed", None)
        if seed is not None:
            torch.manual_seed(int(seed))
        self.worker = make_worker(self.model, self.dtype, getattr(engine_args, "worker_extension_cls", None))
        self.output_processor = _OutputProcessor(self)
        self.stats: dict[str, list[int]] = {"batch_rows": []}  # rows per generate() call, for tests
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vllm-standin")
        self._queue: list[_Pending] = []
        self._running = 0
        self._asleep: set[str] = set()
        self._paused = False
        self._owns_default_group = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.Event | None = None
        # Say plainly in the run's log that no real vLLM engine is serving this run.
        print(
            f"vllm stand-in: serving {path} on cpu with HF generate "
            f"(dtype={self.dtype}, logprobs_mode={self.logprobs_mode})",
            flush=True,
        )

    @classmethod
    def from_engine_args(cls, engine_args: Any, start_engine_loop: bool = True, **_: Any) -> "StandInAsyncLLMEngine":
        return cls(engine_args)

    # ---------------------------------------------------------------- generation
    async def generate(self, prompt: Any, sampling_params: Any, request_id: str, **kwargs: Any) -> AsyncIterator[Any]:
        """Async iterator with one item, the finished ``RequestOutput`` (vLLM streams several; OpenRLHF
        keeps only the last)."""
        if self._asleep:
            raise RuntimeError(
                f"vllm stand-in: generate() while the engine sleeps ({sorted(self._asleep)}); call wake_up first"
            )
        pending = self._submit(prompt, sampling_params, request_id)
        try:
            yield await pending.future
        finally:
            if pending in self._queue:  # consumer went away before it ran
                self._queue.remove(pending)

    def _submit(self, prompt: Any, params: Any, request_id: str) -> _Pending:
        check_supported(params)
        if isinstance(prompt, str):
            prompt = {"prompt": prompt}
        if prompt.get("multi_modal_data"):
            raise NotImplementedError("vllm stand-in: multi_modal_data is not supported")
        text = prompt.get("prompt")
        ids = prompt.get("prompt_token_ids")
        if ids is None:
            ids = self.tokenizer(text, add_special_tokens=True)["input_ids"]
        ids = list(ids)
        room = self.max_model_len - len(ids)
        if room < 1:
            raise ValueError(
                f"vllm stand-in: prompt of {len(ids)} tokens leaves no room in max_model_len={self.max_model_len}"
            )
        if params.logprobs is not None and params.logprobs > self.max_logprobs:
            raise ValueError(f"vllm stand-in: logprobs={params.logprobs} > max_logprobs={self.max_logprobs}")
        max_tokens = min(params.max_tokens, room) if params.max_tokens is not None else room
        self._ensure_scheduler()
        gen = GenRequest(ids, params, max_tokens)
        pending = _Pending(request_id, gen, text, sampling_key(params), self._loop.create_future())
        self._queue.append(pending)
        self._wakeup.set()
        return pending

    def _ensure_scheduler(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first call, or a new loop (asyncio.run per test)
            self._loop = loop
            self._wakeup = asyncio.Event()
            self._idle = asyncio.Event()
            self._idle.set()
            self._task = loop.create_task(self._schedule())

    async def _schedule(self) -> None:
        while True:
            await self._wakeup.wait()
            await self._gather_burst()
            if self._paused or not self._queue:
                self._wakeup.clear()
                continue
            key = self._queue[0].key
            batch = [p for p in self._queue if p.key == key][: self.max_batch_rows]
            for p in batch:
                self._queue.remove(p)
            self._running, self._idle = len(batch), asyncio.Event()
            try:
                await self._loop.run_in_executor(self._executor, self._run_batch, [p.gen for p in batch])
                for p in batch:
                    if not p.future.done():
                        p.future.set_result(self._request_output(p))
            except Exception as exc:  # noqa: BLE001 - surface the failure in every waiting request
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
            finally:
                self._running = 0
                self._idle.set()
            if not self._queue:
                self._wakeup.clear()

    async def _gather_burst(self) -> None:
        """Wait until the queue stops growing for ``batch_window_s`` (at most ``max_gather_s``), so
        that concurrent requests share one batch. A fixed window split a burst wherever the machine
        was slow to deliver it, and the batch's make-up decides the sampled tokens: on a loaded CPU the
        same seeded run then sampled other rollouts (and its bandit chose other arms)."""
        waited, seen = 0.0, -1
        while len(self._queue) != seen and waited < self.max_gather_s:
            seen = len(self._queue)
            await asyncio.sleep(self.batch_window_s)
            waited += self.batch_window_s

    def _run_batch(self, requests: list[GenRequest]) -> None:
        self.stats["batch_rows"].append(sum(int(r.params.n or 1) for r in requests))
        generate_batch(
            self.model, requests, eos_ids=self.eos_ids, pad_id=self.pad_id, logprobs_mode=self.logprobs_mode
        )

    def _request_output(self, pending: _Pending, aborted: bool = False) -> Any:
        from vllm.logprobs import Logprob
        from vllm.outputs import CompletionOutput, RequestOutput

        params = pending.gen.params
        if aborted:
            outputs = [CompletionOutput(0, "", [], None, None, finish_reason="abort")]
            return RequestOutput(
                pending.request_id, pending.prompt_text, pending.gen.prompt_token_ids, None, outputs, True
            )
        outputs = []
        for index, done in enumerate(pending.gen.completions):
            logprobs = cumulative = None
            if done.logprobs is not None:
                logprobs = [
                    {tid: Logprob(value, rank, self.tokenizer.decode([tid])) for tid, (value, rank) in step.items()}
                    for step in done.logprobs
                ]
                cumulative = sum(step[tid][0] for step, tid in zip(done.logprobs, done.token_ids))
            # vLLM keeps the stop token in token_ids but not in the detokenized text.
            text_ids = done.token_ids[:-1] if done.finish_reason == "stop" else done.token_ids
            text = self.tokenizer.decode(text_ids, skip_special_tokens=bool(params.skip_special_tokens))
            outputs.append(
                CompletionOutput(
                    index, text, done.token_ids, cumulative, logprobs,
                    finish_reason=done.finish_reason, stop_reason=done.stop_reason,
                )
            )
        return RequestOutput(pending.request_id, pending.prompt_text, pending.gen.prompt_token_ids, None, outputs, True)

    async def abort(self, request_id: Any, internal: bool = False) -> None:
        ids = {request_id} if isinstance(request_id, str) else set(request_id)
        for p in [p for p in self._queue if p.request_id in ids]:
            self._queue.remove(p)
            if not p.future.done():  # like vLLM: the stream ends with an empty "abort" output
                p.future.set_result(self._request_output(p, aborted=True))

    # ---------------------------------------------------------------- engine control
    async def pause_generation(
        self, *, mode: str = "abort", wait_for_inflight_requests: bool | None = None, clear_cache: bool = True
    ) -> None:
        """"keep": queued requests wait for resume; "abort": they are dropped; "wait": they finish first.
        The batch already running always completes (HF generate cannot be interrupted)."""
        if wait_for_inflight_requests:
            mode = "wait"
        if mode == "wait":
            while self._queue or self._running:
                await asyncio.sleep(self.batch_window_s)
        self._paused = True
        if mode == "abort":
            await self.abort([p.request_id for p in self._queue])
        if self._idle is not None:
            await self._idle.wait()

    async def resume_generation(self) -> None:
        self._paused = False
        if self._queue and self._loop is not None:
            self._wakeup.set()

    async def is_paused(self) -> bool:
        return self._paused

    async def sleep(self, level: int = 1, mode: str = "abort") -> None:
        """Weights stay in (CPU) memory at every level; sleeping only gates generate()/weight loads."""
        await self.pause_generation(mode=mode)
        self._asleep = {"weights", "kv_cache"}
        self._paused = False

    async def wake_up(self, tags: list[str] | None = None) -> None:
        self._asleep -= set(tags or ["weights", "kv_cache"])

    async def is_sleeping(self) -> bool:
        return bool(self._asleep)

    async def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return True  # no prefix cache to reset

    async def collective_rpc(
        self, method: Any, timeout: float | None = None, args: tuple = (), kwargs: dict | None = None
    ) -> list[Any]:
        """Call ``method`` on the (single) worker, on the model thread; returns one result per worker."""
        if method == "update_weight" and "weights" in self._asleep:
            raise RuntimeError("vllm stand-in: update_weight while weights sleep; wake_up(tags=['weights']) first")
        self._ensure_default_group()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, call_worker, self.worker, method, tuple(args), kwargs)
        return [await asyncio.wait_for(future, timeout) if timeout else await future]

    def _ensure_default_group(self) -> None:
        # WorkerWrap asserts a default process group (vLLM's worker has one of TP size): world size 1.
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
            self._owns_default_group = True

    async def get_tokenizer(self) -> Any:
        return self.tokenizer

    async def check_health(self) -> None:
        return None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        if self._owns_default_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_default_group = False

