"""Pool cost: one bandit-chosen arm per micro-batch vs ``score_mean`` over all K arms.

Same samples, K = 3 and 4 tiny-Llama RMs (hidden 512, 4 layers, built in-process, bf16), each mode
in a fresh subprocess so its memory peak is its own. Per mode:
  * scoring time: wall time of the scoring loop (context encoding + selection + RM forwards +
    bandit update; loads of arms that are not resident count too);
  * peak RM memory: bytes of RM parameters+buffers resident on the pool's device at the peak
    (``pool/peak_resident_param_bytes``), and the process RSS peak above its pre-loading level
    (psutil, sampled every 2 ms) - both reported, the target is checked on the first;
  * arm-switch cost: seconds spent bringing an arm onto the device (CPU: reload from disk, since
    offloading to host memory frees nothing there), per switch.
Targets: time(bandit)/time(score_mean) <= 1.1/K; peak RM memory <= 1.1x one RM with residency 1.

    python benchmarks/bench_pool_cost.py [--batches 16] [--micro-batch 16] [--hidden 512] [--layers 4]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the sea is calm and bright today robot helps people answer what is twelve plus seven "
         "sky blue clear day fish can not fly compute three times four result story kind quick brown fox").split()


def build_models(work: Path, k_max: int, hidden: int, layers: int) -> list[str]:
    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.testing.tiny_models import build_tiny_llama, build_tiny_reward_model, build_tokenizer

    apply_cpu_compat()
    tok = build_tokenizer(work / "tokenizer")
    paths = []
    for k in range(k_max):
        base = build_tiny_llama(work / f"base_{k}", tok, seed=10 + k, hidden_size=hidden, num_layers=layers,
                                num_attention_heads=8, num_key_value_heads=4)
        paths.append(str(build_tiny_reward_model(work / f"rm_{k}", base, tok, seed=20 + k)))
    return paths


def make_batches(n_batches: int, micro: int, seed: int = 0):
    from laser_plugin.pool import ScoringBatch

    rng = np.random.default_rng(seed)
    out = []
    for b in range(n_batches):
        prompts = [" ".join(rng.choice(WORDS, size=rng.integers(8, 20))) + "?" for _ in range(micro)]
        responses = [" ".join(rng.choice(WORDS, size=rng.integers(20, 60))) + "." for _ in range(micro)]
        out.append(ScoringBatch([p + " " + r for p, r in zip(prompts, responses)], prompts, responses))
    return out


class RssPeak:
    """Peak process RSS (bytes) sampled by a thread while the block runs."""

    def __init__(self, period_s: float = 0.002) -> None:
        import psutil

        self.proc, self.period, self.peak, self._stop = psutil.Process(), period_s, 0, threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.period)

    def __enter__(self) -> "RssPeak":
        self.base = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def run_mode(cfg: dict) -> dict:
    """One (K, selector, residency) measurement in this process."""
    import torch

    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.pool import RewardPool
    from laser_plugin.pool.bandit_pool import BanditRewardPool
    from transformers import AutoTokenizer

    apply_cpu_compat()
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(cfg["tokenizer"])
    batches = make_batches(cfg["batches"], cfg["micro_batch"])
    specs = ",".join(f"hf:{p}" for p in cfg["rms"])
    with RssPeak() as rss:
        pool = RewardPool(specs, residency=cfg["residency"], policy_tokenizer=tok, micro_batch_size=cfg["micro_batch"])
        bandit = BanditRewardPool(pool, selector=cfg["selector"], feedback="zscore", context_dim=32, seed=0)
        if cfg["residency"] == len(cfg["rms"]):
            pool.load_all(preload=True)  # everything resident up front: the loop measures scoring only
        quality = np.linspace(0.0, 1.0, len(cfg["rms"]))  # synthetic feedback: later arms are better
        rng = np.random.default_rng(1)
        before = pool.metrics()
        start = time.perf_counter()
        for batch in batches:
            res = bandit.score(batch)
            arm = int(res.arms[0])
            if arm >= 0:  # ensembles have no arm to credit
                bandit.update(res.decision_ids[:1], [quality[arm] + 0.1 * rng.standard_normal()])
        elapsed = time.perf_counter() - start
    m = bandit.metrics()
    names = pool.arm_names
    one_rm = max(a.param_bytes() for a in pool.arms if a.loaded)
    loads = sum(m[f"pool/{n}/loads"] - before[f"pool/{n}/loads"] for n in names)
    return {
        **{k: cfg[k] for k in ("k", "selector", "residency")},
        "seconds": elapsed,
        "samples": cfg["batches"] * cfg["micro_batch"],
        "peak_rm_bytes": m["pool/peak_resident_param_bytes"],
        "one_rm_bytes": float(one_rm),
        "rss_peak_delta_bytes": float(rss.peak - rss.base),
        "switches": m["pool/switches"] - before["pool/switches"],
        "loads_in_loop": float(loads),
        "load_seconds_in_loop": m["pool/switch_seconds"] - before["pool/switch_seconds"],
        "select_share": {n: m.get(f"laser/select/{n}", 0.0) for n in names},
    }


def _fmt_mb(b: float) -> str:
    return f"{b / 2**20:.1f}"


def summarise(rows: list[dict]) -> tuple[str, dict]:
    lines = ["| K | mode | residency | time s | time / score_mean | target 1.1/K | peak RM MiB | x one RM "
             "| RSS peak +MiB | arm switches | loads in loop | s / load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    verdict = {}
    for row in rows:
        ref = next(r for r in rows if r["k"] == row["k"] and r["selector"] == "score_mean"
                   and r["residency"] == row["residency"])
        ratio = row["seconds"] / ref["seconds"]
        mem_x = row["peak_rm_bytes"] / max(row["one_rm_bytes"], 1)
        per_load = row["load_seconds_in_loop"] / row["loads_in_loop"] if row["loads_in_loop"] else 0.0
        row.update(time_ratio=ratio, mem_x_one_rm=mem_x, seconds_per_load=per_load)
        mode = "bandit (1 arm/mb)" if row["selector"] != "score_mean" else "score_mean (all K)"
        lines.append(
            f"| {row['k']} | {mode} | {row['residency']} | {row['seconds']:.2f} | {ratio:.3f} | {1.1 / row['k']:.3f} "
            f"| {_fmt_mb(row['peak_rm_bytes'])} | {mem_x:.2f} | {_fmt_mb(row['rss_peak_delta_bytes'])} "
            f"| {row['switches']:.0f} | {row['loads_in_loop']:.0f} | {per_load:.3f} |"
        )
        if row["selector"] != "score_mean":
            key = f"K={row['k']},residency={row['residency']}"
            verdict[key] = {"time_target_met": ratio <= 1.1 / row["k"],
                            "memory_target_met": mem_x <= 1.1 if row["residency"] == 1 else None}
    return "\n".join(lines), verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arms", type=int, nargs="+", default=[3, 4])
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--selector", default="laser")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pool_cost"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_mode(json.loads(args.child))))
        return
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="bench_pool_"))
    rms = build_models(work, max(args.arms), args.hidden, args.layers)
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    for k in args.arms:
        for residency in (k, 1):
            for selector in (args.selector, "score_mean"):
                cfg = {"k": k, "selector": selector, "residency": residency, "rms": rms[:k],
                       "tokenizer": str(work / "tokenizer"), "batches": args.batches, "micro_batch": args.micro_batch}
                out = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], env=env,
                                     capture_output=True, text=True, check=False)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    raise SystemExit(f"mode {cfg['selector']} K={k} failed:\n{out.stderr[-3000:]}")
                rows.append(json.loads(line[7:]))
                print(f"K={k} {selector:>10} residency={residency}: {rows[-1]['seconds']:.2f} s", flush=True)
    table, verdict = summarise(rows)
    setup = (f"{args.batches} micro-batches x {args.micro_batch} samples, tiny Llama RMs hidden {args.hidden}, "
             f"{args.layers} layers, bf16, CPU ({os.cpu_count()} cores), bandit selector `{args.selector}`")
    print(table)
    print(json.dumps(verdict, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"setup": setup, "rows": rows, "verdict": verdict}, indent=1))
    out.with_suffix(".md").write_text(
        f"# Pool cost: one arm per micro-batch vs score_mean\n\n{setup}.\n"
        "Command: `python benchmarks/bench_pool_cost.py`\n\n"
        "Peak RM memory = bytes of RM parameters+buffers resident on the pool's device (the target's "
        "measure); RSS = process resident set above its level before any RM was loaded (psutil).\n"
        "Arm switches = consecutive scoring calls on different RMs; a load brings an arm onto the device "
        "(on CPU a reload from disk: offloading to host memory frees nothing there), s / load is its cost.\n\n"
        f"{table}\n\nTargets (bandit rows): `{json.dumps(verdict)}`\n"
    )


if __name__ == "__main__":
    main()
