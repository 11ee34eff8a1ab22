"""Command lines for a tiny CPU GRPO run of OpenRLHF's real ``train_ppo_ray`` (vLLM stand-in rollouts).

    from laser_plugin.testing.ppo_cpu import grpo_cpu_command, cpu_run_env, write_prompts

    data = write_prompts(tmp / "prompts.jsonl")
    cmd = grpo_cpu_command(policy, reward_model, data, tmp / "run",
                           extra_args=["--reward_selector", "laser", "--reward_pool", "hf:...,hf:..."])
    subprocess.run(cmd, env=cpu_run_env(), check=True, timeout=600)

The run goes through ``python -m laser_plugin.launch --cpu-rollout``: CPU shims, a local Ray on 127.0.0.1
with logical GPUs, and the HF-generate vLLM stand-in in every worker. It is GRPO (``group_norm``, 2
samples per prompt) with everything colocated on one logical GPU (``--train.colocate_all``,
``--vllm.enable_sleep``), a checkpoint every step and TensorBoard scalars under ``<run_dir>/tb/<run_name>``.
With the default 4 prompts, 2 prompts x 2 samples per step and a train batch of 4, one episode is 2 steps.
``extra_args`` are appended last: argparse keeps the last value, so they override the defaults (a flag
given twice is fine); plugin flags such as ``--reward_selector`` are taken out by the launcher.
Expect about 1-1.5 minutes per run on 2 cores (mostly starting and importing 5 Ray workers).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Sequence

from laser_plugin.compat.dtype import resolve_param_dtype
from laser_plugin.records import read_records

DEFAULT_PROMPTS = (
    "What is 12 plus 7?",
    "Is the sky blue?",
    "Write a short happy sentence about the sea.",
    "Can fish fly?",
    "Compute 3 times 4.",
    "Tell me a story about a kind robot.",
    "What is 2 plus 2?",
    "Is the sea calm today?",
)


def write_prompts(path: str | Path, n: int = 4, key: str = "prompt", prompts: Sequence[str] = DEFAULT_PROMPTS) -> Path:
    """A JSONL prompt set (``{key: text}`` per line, cycling ``prompts``) for ``--data.prompt_dataset``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({key: prompts[i % len(prompts)]}) + "\n")
    return path


def grpo_cpu_command(
    policy: str | Path,
    reward_model: str | Path | None,
    prompt_data: str | Path,
    run_dir: str | Path,
    extra_args: Sequence[str] = (),
    *,
    run_name: str = "grpo_cpu",
    python: str = sys.executable,
    input_key: str = "prompt",
) -> list[str]:
    """argv of a tiny CPU GRPO run writing checkpoints / TensorBoard logs under ``run_dir``."""
    run_dir = Path(run_dir)
    args = [
        python, "-m", "laser_plugin.launch", "--cpu-rollout", "openrlhf.cli.train_ppo_ray",
        # models and data
        "--actor.model_name_or_path", str(policy),
        "--data.prompt_dataset", str(prompt_data),
        "--data.input_key", input_key,
        "--data.apply_chat_template",
        "--data.max_len", "64",
        "--rollout.max_new_tokens", "8",
        # one logical GPU shared by actor, reference, reward model and the rollout engine
        "--actor.num_nodes", "1", "--actor.num_gpus_per_node", "1",
        "--ref.num_nodes", "1", "--ref.num_gpus_per_node", "1",
        "--reward.num_nodes", "1", "--reward.num_gpus_per_node", "1",
        "--vllm.num_engines", "1", "--vllm.tensor_parallel_size", "1",
        "--vllm.sync_backend", "gloo", "--vllm.enable_sleep", "--train.colocate_all",
        # GRPO with tiny batches: 2 prompts x 2 samples per rollout step, one optimiser step on 4 samples
        "--algo.advantage.estimator", "group_norm",
        "--rollout.n_samples_per_prompt", "2",
        "--rollout.batch_size", "2",
        "--rollout.micro_batch_size", "2",
        "--train.batch_size", "4",
        "--train.micro_batch_size", "2",
        "--train.max_epochs", "1",
        "--train.num_episodes", "1",
        "--actor.adam.lr", "1e-4",
        # CPU: DeepSpeed on gloo, the CPU dtype policy's params, SDPA attention (no flash-attn kernels)
        "--ds.zero_stage", "2",
        "--ds.param_dtype", resolve_param_dtype(announce=False),
        "--ds.attn_implementation", "sdpa",
        # outputs
        "--ckpt.save_steps", "1",
        "--ckpt.path", str(run_dir / "ckpt"),
        "--ckpt.output_dir", str(run_dir / "final"),
        "--logger.logging_steps", "1",
        "--logger.tensorboard_dir", str(run_dir / "tb"),
        "--logger.wandb.run_name", run_name,
        "--train.seed", "1",
    ]
    # None: the rewards come from elsewhere, e.g. a laser_plugin pool (--reward_selector ... --reward_pool ...)
    rm_args = [] if reward_model is None else ["--reward.model_name_or_path", str(reward_model)]
    return args + rm_args + [str(a) for a in extra_args]


def cpu_run_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the subprocess: offline, single-threaded BLAS, Ray on loopback, stand-in on."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "LASER_VLLM_STANDIN": "1",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "WANDB_MODE": "disabled",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def read_scalars(tensorboard_run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` from every event file under one run directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, list[tuple[int, float]]] = {}
    for event_file in sorted(Path(tensorboard_run_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(event_file), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return scalars


def read_decisions(path: str | Path) -> list[dict]:
    """The bandit's decision log (``decisions.jsonl``), one record per line."""
    return read_records(path)
