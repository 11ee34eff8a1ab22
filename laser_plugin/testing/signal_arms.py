"""A pool for checking what a bandit signal rewards, as OpenRLHF ``reward_func`` files: ``noise``
(a hash of the text: no information), ``long`` (longer is better: it contradicts the others) and
three arms that prefer short answers by different measures (characters, words, 1/(1+characters)).
A hard pool for the audit's unweighted consensus: ``short_inverse`` ranks exactly as ``short_chars``
and ``long`` exactly the reverse, so in every leave-one-out mean one agreeing arm is cancelled by the
contradicting one (measured in benchmarks/results/grpo_signals.md). Used by
benchmarks/bench_grpo_signals.py."""
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


def grpo_flags(pool: str, signal: str, audit_share: float | None = None) -> list[str]:
    """The plugin and size flags of those runs: 4 prompts x 4 samples per step, one decision per group."""
    flags = ["--reward_selector", "laser", "--reward_pool", pool, "--reward_selector.granularity", "group",
             "--reward_selector.signal", signal, "--reward_selector.context_dim", "8",
             "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4", "--rollout.micro_batch_size", "8",
             "--train.batch_size", "16", "--train.micro_batch_size", "8", "--ckpt.save_steps", "-1"]
    return flags + ([] if audit_share is None else ["--reward_selector.audit_share", str(audit_share)])
