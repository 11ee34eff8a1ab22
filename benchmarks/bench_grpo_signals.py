"""Which bandit signal keeps GRPO off a noise arm and a misleading arm? The real
``openrlhf.cli.train_ppo_ray`` (CPU twin: tiny policy, vLLM stand-in) with the pool of
``laser_plugin.testing.signal_arms`` (``noise``, ``long`` and three arms that agree on "shorter is
better"), one run per signal, same seed and steps; reported: the bad arms' share of the decisions per
third of the run (chance, before any feedback: 2/5), responses scored (the audit's extra cost), wall.

    .venv/bin/python benchmarks/bench_grpo_signals.py [--steps 12] [--signals loss group_variance audit audit@1]

``audit@S``: the audit signal with ``--reward_selector.audit_share S`` (default share: 0.25/(K-1)).
Writes benchmarks/results/grpo_signals.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(signal: str, steps: int, work: Path, policy: Path) -> dict:
    from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, read_scalars, write_prompts
    from laser_plugin.testing.signal_arms import ARMS, BAD_ARMS, grpo_flags, write_pool

    name, _, share = signal.partition("@")
    run_dir = work / signal.replace("@", "_")
    pool = write_pool(work / "arms")
    data = write_prompts(run_dir / "prompts.jsonl", n=4 * steps)
    cmd = grpo_cpu_command(policy, None, data, run_dir, extra_args=grpo_flags(pool, name, float(share) if share else None))
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    wall = time.perf_counter() - start
    (run_dir / "run.log").write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"{signal}: train_ppo_ray failed, log {run_dir / 'run.log'}:\n{proc.stdout[-3000:]}")
    log = [json.loads(x) for x in (run_dir / "ckpt" / "laser_bandit" / "decisions.jsonl").read_text().splitlines()]
    thirds = [range(1 + i * steps // 3, 1 + (i + 1) * steps // 3) for i in range(3)]
    share_of = lambda rows: sum(d["arm"] in BAD_ARMS for d in rows) / max(len(rows), 1)  # noqa: E731
    scalars = read_scalars(run_dir / "tb" / "grpo_cpu")
    scored = sum(max(v for _, v in scalars.get(f"train/pool/{a}/samples", [(0, 0.0)])) for a in ARMS)
    return {"signal": signal, "decisions": len(log), "wall_seconds": wall, "responses_scored": scored,
            "responses": 16 * steps, "bad_share_by_third": [share_of([d for d in log if d["global_step"] in t]) for t in thirds],
            "arms_by_step": {s: [d["arm"] for d in log if d["global_step"] == s] for s in range(1, steps + 1)}}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--signals", nargs="+", default=["loss", "group_variance", "audit", "audit@1"])
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "grpo_signals"))
    args = p.parse_args(argv)
    from laser_plugin.compat.dtype import resolve_param_dtype
    from laser_plugin.testing.tiny_models import build_tiny_llama, build_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        policy = build_tiny_llama(work / "policy", build_tokenizer(work / "tokenizer"), seed=0)  # the tests' policy
        rows = [run_one(s, args.steps, work, policy) for s in args.signals]
    lines = ["# GRPO bandit signals against a noise and a misleading arm (`benchmarks/bench_grpo_signals.py`)", "",
             f"Real `train_ppo_ray` on the CPU twin (tiny policy, vLLM stand-in, dtype {resolve_param_dtype(announce=False)}), "
             f"{args.steps} steps x 4 prompt groups of 4 samples, one LinUCB decision per group; pool `noise`, `long`, "
             "`short_chars`, `short_words`, `short_inverse` (`laser_plugin.testing.signal_arms`). Share of the decisions "
             "on `noise` + `long` (chance: 0.40) per third of the run.", "",
             "| signal | first third | middle third | last third | responses scored / generated | wall s |", "|---|---|---|---|---|---|"]
    for r in rows:
        a, b, c = r["bad_share_by_third"]
        lines.append(f"| {r['signal']} | {a:.2f} | {b:.2f} | {c:.2f} | {r['responses_scored'] / r['responses']:.2f} | {r['wall_seconds']:.0f} |")
    md = "\n".join(lines) + "\n"
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".json").write_text(json.dumps(rows, indent=2))
    Path(str(out) + ".md").write_text(md)
    print(md)
    return rows


if __name__ == "__main__":
    main()
