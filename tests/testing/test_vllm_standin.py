"""Unit tests of the CPU vLLM stand-in engine: lengths, stop paths, logprobs, control, weight sync."""
from __future__ import annotations

import asyncio
import socket

import pytest
import torch

from tests.testing._helpers import collect, force_token

PROMPTS = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14]]


def _tokens(outputs) -> list[list[int]]:
    return [list(out.outputs[0].token_ids) for out in outputs]


def _reference_logits(engine, prompt: list[int], generated: list[int]) -> torch.Tensor:
    """Teacher-forced logits of the generated tokens, from the engine's own model."""
    with torch.no_grad():
        logits = engine.model(torch.tensor([prompt + generated])).logits[0].float()
    return logits[len(prompt) - 1 : -1]


def test_a_burst_delivered_slowly_is_still_one_batch_with_the_same_samples(make_engine):
    """On a loaded machine requests of one burst arrive spread out; they must still share one batch,
    since the batch's make-up decides the sampled tokens (the same seeded run must sample the same)."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=1.0, max_tokens=5)
    engine = make_engine()
    torch.manual_seed(0)
    at_once = _tokens(collect(engine, PROMPTS, params))

    async def one(i: int, ids: list[int]):
        await asyncio.sleep(0.04 * i)  # a slow delivery: gaps longer than the old fixed 20 ms window
        async for out in engine.generate({"prompt_token_ids": ids}, params, request_id=f"s{i}"):
            final = out
        return final

    async def main():
        return await asyncio.gather(*(one(i, ids) for i, ids in enumerate(PROMPTS)))

    torch.manual_seed(0)
    spread = _tokens(asyncio.run(main()))
    assert engine.stats["batch_rows"] == [3, 3]
    assert spread == at_once


def test_max_tokens_length_finish_and_batching(make_engine):
    from vllm import SamplingParams

    engine = make_engine()
    outputs = collect(engine, PROMPTS, SamplingParams(temperature=1.0, top_p=0.9, top_k=50, max_tokens=6))
    for prompt, out in zip(PROMPTS, outputs):
        done = out.outputs[0]
        assert out.finished and list(out.prompt_token_ids) == prompt
        assert len(done.token_ids) == 6 and done.finish_reason == "length"
        assert done.logprobs is None and done.cumulative_logprob is None
        assert done.text == engine.tokenizer.decode(done.token_ids, skip_special_tokens=True)
    assert engine.stats["batch_rows"] == [3]  # concurrent requests shared one generate() call
    assert engine.output_processor.get_num_unfinished_requests() == 0


def test_per_request_max_tokens_and_model_len(make_engine):
    from vllm import SamplingParams

    engine = make_engine(max_model_len=16)
    short, long_ = SamplingParams(max_tokens=2), SamplingParams(max_tokens=5)

    async def main():
        async def one(ids, params, rid):
            async for out in engine.generate({"prompt_token_ids": ids}, params, rid):
                return out

        return await asyncio.gather(
            one(PROMPTS[0], short, "a"), one(PROMPTS[1], long_, "b"), one(PROMPTS[2], SamplingParams(max_tokens=None), "c")
        )

    a, b, c = asyncio.run(main())
    assert [len(o.outputs[0].token_ids) for o in (a, b)] == [2, 5]
    assert len(c.outputs[0].token_ids) == 16 - len(PROMPTS[2])  # None: up to max_model_len
    assert engine.stats["batch_rows"] == [3]


def test_eos_ends_with_stop_after_min_tokens(make_engine):
    from vllm import SamplingParams

    engine = make_engine()
    eos = engine.tokenizer.eos_token_id
    force_token(engine, eos)
    outputs = collect(engine, PROMPTS[:2], SamplingParams(max_tokens=6, min_tokens=3, logprobs=0))
    for out in outputs:
        done = out.outputs[0]
        assert done.finish_reason == "stop" and done.stop_reason is None
        assert len(done.token_ids) == 4 and done.token_ids[-1] == eos and eos not in done.token_ids[:3]
        assert done.text == engine.tokenizer.decode(done.token_ids[:-1], skip_special_tokens=True)
        assert done.logprobs[-1][eos].logprob == pytest.approx(0.0, abs=1e-3)
        assert [len(step) for step in done.logprobs] == [1, 1, 1, 1]  # logprobs=0: the sampled token only


def test_stop_token_ids_and_ignore_eos(make_engine):
    from vllm import SamplingParams

    engine = make_engine()
    force_token(engine, 42)
    (out,) = collect(engine, PROMPTS[:1], SamplingParams(max_tokens=6, stop_token_ids=[42]))
    assert list(out.outputs[0].token_ids) == [42]
    assert out.outputs[0].finish_reason == "stop" and out.outputs[0].stop_reason == 42

    engine = make_engine()
    eos = engine.tokenizer.eos_token_id
    force_token(engine, eos)
    (out,) = collect(engine, PROMPTS[:1], SamplingParams(max_tokens=5, ignore_eos=True))
    assert list(out.outputs[0].token_ids) == [eos] * 5 and out.outputs[0].finish_reason == "length"


def test_raw_logprobs_match_model_log_softmax(make_engine):
    from vllm import SamplingParams

    engine = make_engine(dtype="float32")
    outputs = collect(engine, PROMPTS, SamplingParams(temperature=1.0, max_tokens=5, logprobs=3))
    for prompt, out in zip(PROMPTS, outputs):
        done = out.outputs[0]
        ref = torch.log_softmax(_reference_logits(engine, prompt, list(done.token_ids)), dim=-1)
        for step, token in enumerate(done.token_ids):
            entry = done.logprobs[step]
            assert entry[token].logprob == pytest.approx(ref[step, token].item(), abs=1e-3)
            top = torch.topk(ref[step], 3).indices.tolist()
            assert set(top) <= set(entry) and entry[top[0]].rank == 1
            assert entry[token].decoded_token == engine.tokenizer.decode([token])
        expected = sum(ref[i, t].item() for i, t in enumerate(done.token_ids))
        assert done.cumulative_logprob == pytest.approx(expected, abs=1e-2)


def test_processed_logprobs_include_temperature(make_engine):
    from vllm import SamplingParams

    engine = make_engine(dtype="float32", logprobs_mode="processed_logprobs", max_logprobs=1)
    (out,) = collect(engine, PROMPTS[:1], SamplingParams(temperature=0.5, max_tokens=4, logprobs=1))
    done = out.outputs[0]
    ref = torch.log_softmax(_reference_logits(engine, PROMPTS[0], list(done.token_ids)) / 0.5, dim=-1)
    for step, token in enumerate(done.token_ids):
        assert done.logprobs[step][token].logprob == pytest.approx(ref[step, token].item(), abs=1e-3)


def test_greedy_is_argmax_and_repeatable(make_engine):
    from vllm import SamplingParams

    engine = make_engine(dtype="float32")
    greedy = SamplingParams(temperature=0.0, max_tokens=6)
    first, second = collect(engine, PROMPTS, greedy), collect(engine, PROMPTS, greedy)
    assert _tokens(first) == _tokens(second)
    for prompt, tokens in zip(PROMPTS, _tokens(first)):
        assert _reference_logits(engine, prompt, tokens).argmax(-1).tolist() == tokens


def test_unsupported_sampling_fails_loudly(make_engine):
    from vllm import SamplingParams

    engine = make_engine()
    with pytest.raises(NotImplementedError, match="stop strings"):
        collect(engine, PROMPTS[:1], SamplingParams(max_tokens=3, stop=["x"]))


def test_sleep_wake_and_pause_keep(make_engine):
    from vllm import SamplingParams

    engine = make_engine(enable_sleep_mode=True)
    params = SamplingParams(max_tokens=3)

    async def generate_one():
        async for out in engine.generate({"prompt_token_ids": PROMPTS[0]}, params, "p"):
            return out

    async def main():
        await engine.sleep(level=1)
        assert await engine.is_sleeping()
        with pytest.raises(RuntimeError, match="sleeps"):
            await generate_one()
        await engine.wake_up(tags=["weights"])
        assert await engine.is_sleeping()  # kv_cache still asleep
        await engine.wake_up(tags=["kv_cache"])
        assert not await engine.is_sleeping()

        await engine.pause_generation(mode="keep")
        task = asyncio.create_task(generate_one())
        await asyncio.sleep(0.3)
        assert not task.done() and engine.output_processor.get_num_unfinished_requests() == 1
        await engine.resume_generation()
        out = await asyncio.wait_for(task, 30)
        assert len(out.outputs[0].token_ids) == 3

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_weight_update_through_openrlhf_workerwrap_over_gloo(make_engine, second_policy, monkeypatch):
    """OpenRLHF's own trainer-side group + WorkerWrap.init_process_group/update_weight change generations."""
    import vllm.distributed.device_communicators.pynccl as pynccl
    from openrlhf.utils.distributed_util import stateless_init_process_group
    from transformers import AutoModelForCausalLM
    from vllm import SamplingParams

    from laser_plugin.testing.vllm_standin.comm import GlooCommunicator

    monkeypatch.setattr(pynccl, "PyNcclCommunicator", GlooCommunicator)  # what install() does
    engine, target_engine = make_engine(), make_engine(second_policy)
    greedy = SamplingParams(temperature=0.0, max_tokens=8)
    before, target = _tokens(collect(engine, PROMPTS, greedy)), _tokens(collect(target_engine, PROMPTS, greedy))
    assert before != target
    source = AutoModelForCausalLM.from_pretrained(second_policy, dtype=engine.dtype)
    port = _free_port()

    async def sync() -> None:
        init = asyncio.create_task(
            engine.collective_rpc("init_process_group", args=("127.0.0.1", port, 1, 2, "openrlhf", "gloo", False))
        )
        group = await asyncio.to_thread(stateless_init_process_group, "127.0.0.1", port, 0, 2, "cpu")
        await init
        for name, param in source.named_parameters():
            rpc = asyncio.create_task(engine.collective_rpc("update_weight", args=(name, param.dtype, param.shape)))
            await asyncio.to_thread(group.broadcast, param.data, 0, None)
            await rpc

    asyncio.run(sync())
    assert _tokens(collect(engine, PROMPTS, greedy)) == target


def test_pause_abort_ends_queued_requests(make_engine):
    from vllm import SamplingParams

    engine = make_engine()

    async def main():
        await engine.pause_generation(mode="keep")
        stream = engine.generate({"prompt_token_ids": PROMPTS[0]}, SamplingParams(max_tokens=3), "q")
        task = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0.1)
        await engine.pause_generation(mode="abort")
        out = await asyncio.wait_for(task, 10)
        assert out.outputs[0].finish_reason == "abort" and list(out.outputs[0].token_ids) == []
        assert engine.output_processor.get_num_unfinished_requests() == 0
        await engine.resume_generation()

    asyncio.run(main())
