"""A pool for checking what a bandit signal rewards, as OpenRLHF ``reward_func`` files: ``noise``
(a hash of the text: no information), ``long`` (longer is better: it contradicts the others) and
three arms that prefer short answers by different measures (characters, words, 1/(1+characters)).
A hard pool for the audit's consensus: ``short_inverse`` ranks exactly as ``short_chars`` and
``long`` exactly the reverse, so in every plain leave-one-out mean one agreeing arm is cancelled by
the contradicting one, unless the contradicting arm is trimmed from the consensus (as
``signals.consensus_agreement`` does; benchmarks/results/grpo_signals.md). Used by
benchmarks/bench_grpo_signals.py and tests/adapters/openrlhf/test_grpo_default_signal.py."""
from __future__ import annotations

from pathlib import Path

BAD_ARMS = ("noise", "long")
ARMS = {
    "noise": "import hashlib\n"
             "def reward_func(queries, prompts, labels, **kw):\n"
             "    return [int.from_bytes(hashlib.blake2b(q.encode(), digest_size=8).digest(), 'little') / 2**64\n"
             "            for q in queries]\n",
    "long": "def reward_func(queries, prompts, labels, **kw):\n"
            "    return [float(len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
    "short_chars": "def reward_func(queries, prompts, labels, **kw):\n"
                   "    return [-float(len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
    "short_words": "def reward_func(queries, prompts, labels, **kw):\n"
                   "    return [-float(len(q[len(p):].split())) for q, p in zip(queries, prompts)]\n",
    "short_inverse": "def reward_func(queries, prompts, labels, **kw):\n"
                     "    return [1.0 / (1.0 + len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
}


def write_pool(directory: str | Path) -> str:
    """Write the arms' files into ``directory``; returns the ``--reward_pool`` spec."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in ARMS.items():
        (directory / f"{name}.py").write_text(text)
    return ",".join(f"func:{directory / name}.py" for name in ARMS)


def write_probe(path: str | Path) -> str:
    """Trusted pairs for ``--reward_selector.signal probe`` that say what the three agreeing arms say:
    on each training prompt, a short answer is preferred to a long one."""
    import json

    from laser_plugin.testing.ppo_cpu import DEFAULT_PROMPTS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt": p, "chosen": "Yes.", "rejected": "Well, that depends on a great "
                                        "many things, and I would rather not say."}) + "\n" for p in DEFAULT_PROMPTS))
    return str(path)


def grpo_flags(pool: str, signal: str | None, audit_share: float | None = None, probe: str | None = None) -> list[str]:
    """The plugin and size flags of those runs: 4 prompts x 4 samples per step, one decision per group
    (``signal`` None: the plugin's default signal)."""
    flags = ["--reward_selector", "laser", "--reward_pool", pool, "--reward_selector.granularity", "group",
             "--reward_selector.context_dim", "8",
             "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4", "--rollout.micro_batch_size", "8",
             "--train.batch_size", "16", "--train.micro_batch_size", "8", "--ckpt.save_steps", "-1"]
    flags += [] if signal is None else ["--reward_selector.signal", signal]
    flags += [] if probe is None else ["--reward_selector.probe_dataset", probe]
    return flags + ([] if audit_share is None else ["--reward_selector.audit_share", str(audit_share)])


def run_grpo(signal: str | None, steps: int, work: Path, policy: Path, audit_share: float | None = None,
             timeout_s: float = 1800, seed: int = 0) -> dict:
    """One real ``train_ppo_ray`` run (CPU twin) over this pool, ``steps`` steps of 4 prompt groups;
    ``seed`` s: ``--train.seed 1+s`` (rollouts, pair order) and ``--reward_selector.seed s`` (the
    bandit's RNG and its audit draws); s = 0 is the CPU twin's default pair (1, 0). Returns the
    decisions (``arms_by_step``), the bad arms' share per third of the steps, the
    responses scored (every arm's samples, from the TensorBoard log) and generated, and the wall time."""
    import subprocess
    import time

    from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, read_decisions, read_scalars, write_prompts

    label = signal or "default"
    run_dir = Path(work) / (label if audit_share is None else f"{label}_{audit_share}") / f"seed{seed}"
    pool = write_pool(Path(work) / "arms")
    data = write_prompts(run_dir / "prompts.jsonl", n=4 * steps)
    probe = write_probe(run_dir / "probe.jsonl") if signal == "probe" else None
    seeds = ["--train.seed", str(1 + seed), "--reward_selector.seed", str(seed)]  # the last --train.seed wins
    cmd = grpo_cpu_command(policy, None, data, run_dir, extra_args=grpo_flags(pool, signal, audit_share, probe) + seeds)
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout_s)
    wall = time.perf_counter() - start
    (run_dir / "run.log").write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: train_ppo_ray failed, log {run_dir / 'run.log'}:\n{proc.stdout[-3000:]}")
    log = read_decisions(run_dir / "ckpt" / "laser_bandit" / "decisions.jsonl")
    thirds = [range(1 + i * steps // 3, 1 + (i + 1) * steps // 3) for i in range(3)]
    scalars = read_scalars(run_dir / "tb" / "grpo_cpu")
    scored = sum(max(v for _, v in scalars.get(f"train/pool/{a}/samples", [(0, 0.0)])) for a in ARMS)
    return {"signal": label if audit_share is None else f"{label}@{audit_share:g}", "seed": seed, "decisions": len(log),
            "wall_seconds": wall, "responses_scored": scored, "responses": 16 * steps, "log": proc.stdout,
            "bad_share_by_third": [bad_share([d for d in log if d["global_step"] in t]) for t in thirds],
            "arms_by_step": {s: [d["arm"] for d in log if d["global_step"] == s] for s in range(1, steps + 1)}}


def bad_share(decisions: list[dict]) -> float:
    """Share of ``decisions`` (decision-log rows) that went to a bad arm (chance: 2/5)."""
    return sum(d["arm"] in BAD_ARMS for d in decisions) / max(len(decisions), 1)
