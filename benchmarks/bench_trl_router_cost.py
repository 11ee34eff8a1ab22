"""TRL scoring cost: all K reward models in ``reward_funcs`` vs ``LaserRewardRouter`` (one arm routed).

The real ``trl.GRPOTrainer`` trains a tiny Llama policy for a few steps with
``reward_funcs=[LaserRewardRouter(...)]`` over a pool of K OpenRLHF-format RMs (``hf:`` arms), in three
modes: ``router_group`` (one LinUCB-chosen arm per prompt group of ``num_generations`` completions,
all K RMs resident), ``router_batch`` (one arm per reward call) and ``router_group_res1`` (one RM
resident; on CPU an arm switch reloads it from disk). At every step, on the very same completions,
a second GRPOTrainer built with ``reward_funcs=[rm_1, ..., rm_K]`` (TRL's own path: each checkpoint
loaded as ``AutoModelForSequenceClassification``, which gives the same scores as OpenRLHF's loader)
runs its ``_calculate_rewards`` too, before or after the router's (alternating), so both are timed
side by side under the same machine load. Measured: wall and process-CPU seconds of
``GRPOTrainer._calculate_rewards`` (TRL's scoring call: every reward function of the step), per step;
reported: medians over the steps after the first, and the median of the per-step ratios. The
policy's learning rate is 0, so every row scores the same completions (one hash per row), all of the
same length (``min_new_tokens`` = ``max_completion_length``). Target: router / TRL <= 1.1 / K.

    python benchmarks/bench_trl_router_cost.py [--steps 14] [--batch 64] [--threads 1] [--hidden 384] [--layers 4]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the sea is calm and bright today robot helps people answer what is twelve plus seven "
         "sky blue clear day fish can not fly compute three times four result story kind quick brown fox").split()
MODES = ("router_group", "router_batch", "router_group_res1")
LABELS = {
    "router_group": "router, 1 arm per prompt group",
    "router_batch": "router, 1 arm per call",
    "router_group_res1": "router, 1 arm per group, residency 1",
}


def build_models(work: Path, k_max: int, hidden: int, layers: int) -> tuple[str, list[str]]:
    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.testing.tiny_models import build_tiny_llama, build_tiny_reward_model, build_tokenizer

    apply_cpu_compat()
    tok = build_tokenizer(work / "tokenizer")
    policy = build_tiny_llama(work / "policy", tok, seed=0)
    rms = []
    for k in range(k_max):
        base = build_tiny_llama(work / f"base_{k}", tok, seed=10 + k, hidden_size=hidden, num_layers=layers,
                                num_attention_heads=8, num_key_value_heads=4)
        rms.append(str(build_tiny_reward_model(work / f"rm_{k}", base, tok, seed=20 + k)))
    return str(policy), rms


def prompts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 20)))) + "?" for _ in range(n)]


def _trainer(policy: str, tok, reward_funcs: list, processing, callbacks, cfg: argparse.Namespace, out: Path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(out), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch,
        num_generations=cfg.num_generations, max_completion_length=cfg.completion_len,
        generation_kwargs={"min_new_tokens": cfg.completion_len}, learning_rate=0.0, logging_steps=1,
        save_strategy="no", report_to=[], seed=0, use_cpu=True, bf16=False, log_completions=False,
    )
    return GRPOTrainer(model=policy, processing_class=tok, reward_funcs=reward_funcs, args=args,
                       reward_processing_classes=processing, callbacks=callbacks,
                       train_dataset=Dataset.from_dict({"prompt": prompts(cfg.batch * cfg.steps)}))


def _timed(fn, *a):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*a)
    return out, time.perf_counter() - w0, time.process_time() - c0


def run_row(mode: str, k: int, policy: str, rms: list[str], cfg: argparse.Namespace, out: Path) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from laser_plugin.adapters.trl import LaserRewardRouter

    tok = AutoTokenizer.from_pretrained(policy)
    natives = []
    for path in rms[:k]:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        model.config.pad_token_id = tok.pad_token_id
        natives.append(model)
    baseline = _trainer(policy, tok, natives, [tok] * k, None, cfg, out / f"trl_all_k{k}_{mode}")
    residency = 1 if mode.endswith("res1") else k
    router = LaserRewardRouter(
        [f"hf:{p}@rm_{i}" for i, p in enumerate(rms[:k])], selector="laser",
        granularity="batch" if mode == "router_batch" else "group", seed=0, policy_tokenizer=tok,
        pool_kwargs={"residency": residency, "micro_batch_size": cfg.batch},
    )
    router.bandit.pool.load_all(preload=True)  # as TRL's RMs: loaded before training
    preloads = int(sum(router.bandit.pool.metrics()[f"pool/rm_{i}/loads"] for i in range(k)))
    trainer = _trainer(policy, tok, [router], None, [router.callback(write_decisions=False)], cfg,
                       out / f"{mode}_k{k}")
    inner, base_inner = trainer._calculate_rewards, baseline._calculate_rewards
    t = {"wall": [], "cpu": [], "base_wall": [], "base_cpu": []}
    digest = hashlib.sha256()

    def paired(inputs, prompts_, completions, completion_ids_list):
        digest.update(json.dumps([prompts_, completions]).encode())
        a = (inputs, prompts_, completions, completion_ids_list)
        if len(t["wall"]) % 2 == 0:  # alternate the order so drifting load hits both alike
            _, bw, bc = _timed(base_inner, *a)
            out_, w, c = _timed(inner, *a)
        else:
            out_, w, c = _timed(inner, *a)
            _, bw, bc = _timed(base_inner, *a)
        for key, v in zip(("wall", "cpu", "base_wall", "base_cpu"), (w, c, bw, bc)):
            t[key].append(v)
        return out_

    trainer._calculate_rewards = paired
    trainer.train()
    med = lambda xs: statistics.median(xs[1:])  # noqa: E731 - step 1 warms caches up
    m = router.bandit.metrics()
    row = {"mode": mode, "k": k, "label": LABELS[mode], "steps": len(t["wall"]),
           "wall_s": med(t["wall"]), "cpu_s": med(t["cpu"]),
           "base_wall_s": med(t["base_wall"]), "base_cpu_s": med(t["base_cpu"]),
           "wall_ratio": med([a / b for a, b in zip(t["wall"], t["base_wall"])]),
           "cpu_ratio": med([a / b for a, b in zip(t["cpu"], t["base_cpu"])]),
           "times": t, "samples_hash": digest.hexdigest()[:12], "torch_threads": torch.get_num_threads(),
           "arm_calls": int(sum(m[f"pool/rm_{i}/calls"] for i in range(k))),
           "base_rm_calls": k * len(t["wall"]),
           "rm_samples": int(sum(m[f"pool/rm_{i}/samples"] for i in range(k))),
           "base_rm_samples": k * cfg.batch * len(t["wall"]),
           "loads": int(sum(m[f"pool/rm_{i}/loads"] for i in range(k))) - preloads,
           "selection": {f"rm_{i}": round(m[f"laser/select/rm_{i}"], 3) for i in range(k)}}
    router.close()
    del trainer, baseline
    return row


def summarise(rows: list[dict], cfg: argparse.Namespace, load: float) -> tuple[str, dict]:
    verdict, lines = {}, []
    lines.append("| K | router mode | TRL all-K wall s | router wall s | TRL all-K CPU s | router CPU s | wall ratio | "
                 "CPU ratio | target 1.1/K | met (wall / CPU) | RM calls TRL / router | RM samples TRL / router | "
                 "loads | arms chosen (share) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = 1.1 / r["k"]
        wr, cr = r["wall_ratio"], r["cpu_ratio"]
        verdict[f"K={r['k']},{r['mode']}"] = {"wall_ratio": round(wr, 3), "cpu_ratio": round(cr, 3),
                                              "target": round(target, 3), "met_wall": wr <= target,
                                              "met_cpu": cr <= target}
        share = ", ".join(f"{a} {v:.2f}" for a, v in r["selection"].items())
        lines.append(f"| {r['k']} | {r['label']} | {r['base_wall_s']:.3f} | {r['wall_s']:.3f} | {r['base_cpu_s']:.3f} | "
                     f"{r['cpu_s']:.3f} | {wr:.3f} | {cr:.3f} | {target:.3f} | {'yes' if wr <= target else 'no'} / "
                     f"{'yes' if cr <= target else 'no'} | {r['base_rm_calls']} / {r['arm_calls']} | "
                     f"{r['base_rm_samples']} / {r['rm_samples']} | {r['loads']} | {share} |")
    hashes = sorted({r["samples_hash"] for r in rows})
    md = [
        "# TRL scoring cost: all K RMs in reward_funcs vs LaserRewardRouter",
        "",
        f"Real `trl.GRPOTrainer` (TRL 1.16), tiny Llama policy, {cfg.steps} steps of {cfg.batch} completions "
        f"({cfg.batch // cfg.num_generations} prompts x {cfg.num_generations} generations, {cfg.completion_len} tokens "
        f"each), RMs: tiny Llama hidden {cfg.hidden}, {cfg.layers} layers, bf16, CPU ({os.cpu_count()} cores shared "
        f"with other jobs, {rows[0]['torch_threads']} torch thread(s); load average at the end {load:.1f}).",
        "",
        "Command: `python benchmarks/bench_trl_router_cost.py` (one run; per row one router training run, with TRL's "
        "all-K scoring timed on the same completions at every step).",
        "",
        "* time: `GRPOTrainer._calculate_rewards` per step (every reward function of the step: for the router its "
        "contexts, selection, the chosen arms' forwards, normalisation and metrics; for TRL the K RM forwards), "
        "medians over steps 2..N; ratio: median of the per-step router / TRL ratios (the two calls run back to back, "
        "in alternating order). CPU s is process CPU time over the same call, less sensitive to other jobs.",
        "* TRL all-K loads each RM as `AutoModelForSequenceClassification` (what TRL does with RM paths); the "
        "router scores the same checkpoints through the pool's `hf:` arms (OpenRLHF's loader). Learning rate 0: "
        f"every row scores identical completions (samples hash {', '.join(hashes)}).",
        "* RM calls: forwards over the run (a group-level router call runs each arm chosen by one of its groups, on "
        "those groups' rows); loads: arms brought onto the device during training (residency 1: a reload from disk "
        "per switch on CPU).",
        "",
        "\n".join(lines),
        "",
        "Verdict: `" + json.dumps(verdict) + "`",
        "",
    ]
    return "\n".join(md), verdict


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ks", default="3,4")
    p.add_argument("--steps", type=int, default=14)
    p.add_argument("--batch", type=int, default=64, help="completions per step")
    p.add_argument("--num_generations", type=int, default=4)
    p.add_argument("--completion_len", type=int, default=24)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on shared cores)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    cfg = p.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    # Before torch loads; accelerate keeps an OMP_NUM_THREADS that is set (it sets 2 itself otherwise).
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(cfg.threads)
    import torch

    torch.set_num_threads(cfg.threads)
    ks = [int(k) for k in cfg.ks.split(",")]
    modes = [m for m in cfg.modes.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        policy, rms = build_models(work, max(ks), cfg.hidden, cfg.layers)
        rows = []
        for k in ks:
            for mode in modes:
                row = run_row(mode, k, policy, rms, cfg, work / "runs")
                print(f"K={k} {mode:18s} TRL wall {row['base_wall_s']:.3f} s CPU {row['base_cpu_s']:.3f} s | router "
                      f"wall {row['wall_s']:.3f} s CPU {row['cpu_s']:.3f} s | ratio wall {row['wall_ratio']:.3f} "
                      f"CPU {row['cpu_ratio']:.3f} | hash {row['samples_hash']}", flush=True)
                rows.append(row)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    md, verdict = summarise(rows, cfg, load)
    print(md)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trl_router_cost.md").write_text(md)
    (out / "trl_router_cost.json").write_text(json.dumps(
        {"config": vars(cfg), "python": platform.python_version(), "load_avg": load, "rows": rows,
         "verdict": verdict}, indent=1))


if __name__ == "__main__":
    main()
