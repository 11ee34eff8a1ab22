"""Pool cost: one bandit-chosen arm per micro-batch vs ``score_mean`` over all K arms.

Same samples, K = 3 and 4 tiny-Llama RMs (hidden 384, 4 layers, built in-process, bf16), each row
in a fresh subprocess so its memory peak is its own. Rows per K: the bandit and score_mean with all
K RMs resident (time target), then the bandit, round_robin (a switch every micro-batch, the worst
case) and score_mean with one RM resident (memory target, arm-switch cost). Measured:
  * scoring time: wall time of the scoring loop (fastest of --repeats passes), and its CPU time;
  * peak RM memory: bytes of RM parameters+buffers resident on the pool's device at the peak
    (``pool/peak_resident_param_bytes``, the target's measure) and the process RSS peak above its
    level after a warm-up load (psutil, sampled every 2 ms);
  * arm-switch cost: seconds to bring an arm onto the device (CPU: a reload from disk), per load.
Targets: time(one arm)/time(score_mean) <= 1.1/K; peak RM memory <= 1.1x one RM with residency 1.

    python benchmarks/bench_pool_cost.py [--batches 16] [--repeats 2] [--hidden 384] [--layers 4]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
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
        responses = [" ".join(rng.choice(WORDS, size=rng.integers(15, 40))) + "." for _ in range(micro)]
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
    torch.set_num_threads(cfg["threads"])  # 1: CPU time is compute, not OpenMP spin-waiting
    tok = AutoTokenizer.from_pretrained(cfg["tokenizer"])
    batches = make_batches(cfg["batches"], cfg["micro_batch"])
    specs = ",".join(f"hf:{p}" for p in cfg["rms"])
    # Import the loader stack and run one throw-away forward before the RSS baseline, so the RSS
    # delta is RM weights + activations, not one-off library imports and lazy initialisation.
    warm = RewardPool(f"hf:{cfg['rms'][0]}", policy_tokenizer=tok)
    warm.score(batches[0], np.zeros(len(batches[0]), dtype=np.int64))
    warm.arms[0].unload()
    del warm
    with RssPeak() as rss:
        pool = RewardPool(specs, residency=cfg["residency"], policy_tokenizer=tok, micro_batch_size=cfg["micro_batch"])
        bandit = BanditRewardPool(pool, selector=cfg["selector"], signal_norm="quantile", context_dim=32, seed=0)
        if cfg["residency"] == len(cfg["rms"]):
            pool.load_all(preload=True)  # everything resident up front: the loop measures scoring only
        quality = np.linspace(0.0, 1.0, len(cfg["rms"]))  # synthetic feedback: later arms are better
        rng = np.random.default_rng(1)
        before = pool.metrics()
        passes = []
        for _ in range(cfg["repeats"]):  # min over passes: the machine's cores are shared
            start, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                res = bandit.score(batch)
                arm = int(res.arms[0])
                if arm >= 0:  # ensembles have no arm to credit
                    bandit.update(res.decision_ids[:1], [quality[arm] + 0.1 * rng.standard_normal()])
            passes.append((time.perf_counter() - start, time.process_time() - cpu))
        elapsed, cpu_s = min(passes)
    m = bandit.metrics()
    names = pool.arm_names
    one_rm = max(a.param_bytes() for a in pool.arms if a.loaded)
    loads = sum(m[f"pool/{n}/loads"] - before[f"pool/{n}/loads"] for n in names)
    return {
        **{k: cfg[k] for k in ("k", "selector", "residency")},
        "seconds": elapsed,
        "cpu_seconds": cpu_s,
        "pass_seconds": [p[0] for p in passes],
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
    lines = ["| K | mode | residency | wall s | CPU s | wall / score_mean | CPU / score_mean | target 1.1/K "
             "| peak RM MiB | x one RM | RSS peak +MiB | arm switches | loads | s / load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    verdict = {}
    for row in rows:
        ref = next(r for r in rows if r["k"] == row["k"] and r["selector"] == "score_mean"
                   and r["residency"] == row["residency"])
        ratio = row["seconds"] / ref["seconds"]
        cpu_ratio = row["cpu_seconds"] / ref["cpu_seconds"]
        mem_x = row["peak_rm_bytes"] / max(row["one_rm_bytes"], 1)
        per_load = row["load_seconds_in_loop"] / row["loads_in_loop"] if row["loads_in_loop"] else 0.0
        row.update(time_ratio=ratio, cpu_time_ratio=cpu_ratio, mem_x_one_rm=mem_x, seconds_per_load=per_load)
        mode = {"score_mean": "score_mean (all K)", "round_robin": "round_robin (1 arm/mb, switch every mb)"}.get(
            row["selector"], f"{row['selector']} bandit (1 arm/mb)")
        lines.append(
            f"| {row['k']} | {mode} | {row['residency']} | {row['seconds']:.2f} | {row['cpu_seconds']:.2f} "
            f"| {ratio:.3f} | {cpu_ratio:.3f} | {1.1 / row['k']:.3f} | {_fmt_mb(row['peak_rm_bytes'])} | {mem_x:.2f} "
            f"| {_fmt_mb(row['rss_peak_delta_bytes'])} | {row['switches']:.0f} | {row['loads_in_loop']:.0f} "
            f"| {per_load:.3f} |"
        )
        if row["selector"] != "score_mean":
            verdict[f"K={row['k']},{row['selector']},residency={row['residency']}"] = {
                "wall_ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
                "time_target_met_wall": ratio <= 1.1 / row["k"], "time_target_met_cpu": cpu_ratio <= 1.1 / row["k"],
                "memory_target_met": mem_x <= 1.1 if row["residency"] == 1 else None}
    return "\n".join(lines), verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arms", type=int, nargs="+", default=[3, 4])
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2, help="passes over the batches; the fastest is reported")
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per measured process")
    ap.add_argument("--selector", default="laser")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pool_cost"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_mode(json.loads(args.child))))
        return
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="bench_pool_"))
    try:
        rows = run_all(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, rows)


def run_all(args: argparse.Namespace, work: Path) -> list[dict]:
    rms = build_models(work, max(args.arms), args.hidden, args.layers)
    rows: list[dict] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    modes = [(args.selector, "K"), ("score_mean", "K"), (args.selector, 1), ("round_robin", 1), ("score_mean", 1)]
    for k in args.arms:
        for selector, res in modes:
            residency = k if res == "K" else res
            cfg = {"k": k, "selector": selector, "residency": residency, "rms": rms[:k], "repeats": args.repeats,
                   "threads": args.threads,
                   "tokenizer": str(work / "tokenizer"), "batches": args.batches, "micro_batch": args.micro_batch}
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], env=env,
                                 capture_output=True, text=True, check=False)
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"mode {selector} K={k} residency={residency} failed:\n{out.stderr[-3000:]}")
            rows.append(json.loads(line[7:]))
            print(f"K={k} {selector:>11} residency={residency}: {rows[-1]['seconds']:.2f} s", flush=True)
    return rows


def report(args: argparse.Namespace, rows: list[dict]) -> None:
    table, verdict = summarise(rows)
    setup = (f"{args.batches} micro-batches x {args.micro_batch} samples, tiny Llama RMs hidden {args.hidden}, "
             f"{args.layers} layers, bf16, CPU ({os.cpu_count()} cores, {args.threads} torch thread(s)), "
             f"bandit selector `{args.selector}`")
    print(table)
    print(json.dumps(verdict, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"setup": setup, "rows": rows, "verdict": verdict}, indent=1))
    out.with_suffix(".md").write_text(
        f"# Pool cost: one arm per micro-batch vs score_mean\n\n{setup}.\n\n"
        "Command: `python benchmarks/bench_pool_cost.py` (one run; every row is its own subprocess).\n\n"
        "* time: wall time of the scoring loop (contexts, selection, RM forwards, bandit update, loads of arms "
        f"not resident), fastest of {args.repeats} passes because the cores are shared with other jobs; CPU s "
        "is that pass's process CPU time, less sensitive to that contention (load average at the end of "
        f"the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores).\n"
        "* peak RM memory: bytes of RM parameters+buffers resident on the pool's device at the peak (the "
        "target's measure). RSS: peak process RSS above its level after a warm-up load (psutil), which "
        "also holds activations and allocator slack.\n"
        "* arm switches: consecutive scoring calls on different RMs; loads: arms brought onto the device "
        "in the loop (on CPU a reload from disk, as offloading to host memory frees nothing there); "
        "s / load is the arm-switch cost. round_robin is the worst case for a one-arm-per-micro-batch "
        "selector (a new arm every micro-batch).\n\n"
        f"{table}\n\nVerdict per one-arm row: `{json.dumps(verdict)}`\n"
    )

if __name__ == "__main__":
    main()
