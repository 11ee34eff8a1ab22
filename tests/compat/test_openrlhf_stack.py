"""Proofs (a)-(c) that the installed OpenRLHF stack is real and runs on CPU through the compat layer."""
import json
import subprocess
import sys

import pytest

from laser_plugin.compat.dtype import resolve_param_dtype


def test_reward_model_from_openrlhf_loader_scores(tiny_reward_models, tiny_tokenizer, cpu_compat):
    import torch
    from openrlhf.models import get_llm_for_sequence_regression

    model = get_llm_for_sequence_regression(
        str(tiny_reward_models[0]), "reward", param_dtype=resolve_param_dtype(), attn_implementation="sdpa"
    )
    model.eval()
    batch = tiny_tokenizer(["What is 12 plus 7? 19", "Is the sky blue? yes"], return_tensors="pt", padding=True)
    with torch.no_grad():
        rewards = model(batch.input_ids, batch.attention_mask)
    assert rewards.shape == (2,)
    assert torch.isfinite(rewards.float()).all()
    assert rewards[0] != rewards[1]


def _dpo_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = i % 7 + 1, i % 5 + 2
        rows.append(
            {
                "prompt": f"What is {a} plus {b}?",
                "chosen": f"The answer is {a + b}.",
                "rejected": f"I do not know {i}.",
            }
        )
    return rows


def _tensorboard_scalars(log_dir, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = []
    for events in sorted(log_dir.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            values += [e.value for e in acc.Scalars(tag)]
    return values


@pytest.mark.slow
def test_train_dpo_cli_trains_on_cpu(tmp_path, tiny_policy):
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _dpo_rows(16)) + "\n")
    cmd = [
        sys.executable, "-m", "laser_plugin.launch", "openrlhf.cli.train_dpo",
        "--model.model_name_or_path", str(tiny_policy),
        "--data.dataset", str(data), "--data.prompt_key", "prompt",
        "--data.max_len", "64", "--train.micro_batch_size", "2", "--train.batch_size", "4",
        "--train.max_epochs", "1", "--ds.zero_stage", "2", "--ds.param_dtype", "fp32",  # CPU dtype policy path
        "--ds.attn_implementation", "sdpa", "--adam.lr", "5e-3", "--lr_warmup_ratio", "0",
        "--model.beta", "0.1", "--ckpt.output_dir", str(tmp_path / "out"),
        "--logger.logging_steps", "1", "--logger.tensorboard_dir", str(tmp_path / "tb"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    losses = _tensorboard_scalars(tmp_path / "tb", "train/loss")
    assert len(losses) >= 2, log[-3000:]
    assert losses[0] == pytest.approx(0.6931, abs=0.02)  # log(2): policy == reference at step 0
    assert min(losses[1:]) < losses[0] - 1e-3, losses
    assert (tmp_path / "out" / "model.safetensors").exists() or any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_reward_model_actor_group_scores_on_local_ray(local_ray, tiny_reward_models, tiny_tokenizer):
    import torch

    from laser_plugin.testing.openrlhf_args import reward_actor_strategy
    from openrlhf.trainer.ray.launcher import RayActorGroup, RewardModelActor

    strategy = reward_actor_strategy()
    group = RayActorGroup(1, 1, RewardModelActor, pg=None, num_gpus_per_actor=1)
    local_ray.get(group.async_init_model_from_pretrained(strategy, str(tiny_reward_models[0])))
    batch = tiny_tokenizer(["What is 12 plus 7? 19", "hello"], return_tensors="pt", padding=True)
    refs = group.async_run_method_batch(
        method_name="forward", sequences=[batch.input_ids], attention_mask=[batch.attention_mask]
    )
    (rewards,) = local_ray.get(refs)[0]  # one result list per actor, one entry per micro-batch
    assert rewards.shape == (2,)
    assert torch.isfinite(rewards.float()).all()
    # The Ray actor (setup hook, DeepSpeed eval engine) gives the scores of the in-process loader.
    from openrlhf.models import get_llm_for_sequence_regression

    local = get_llm_for_sequence_regression(
        str(tiny_reward_models[0]), "reward", param_dtype=resolve_param_dtype(), attn_implementation="sdpa"
    ).eval()
    with torch.no_grad():
        expected = local(batch.input_ids, batch.attention_mask, pad_sequence=True)
    torch.testing.assert_close(rewards.float(), expected.float(), atol=0.05, rtol=0.02)
