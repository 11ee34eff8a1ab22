"""CPU speed of the project's models in bf16 vs fp32, side by side in one run, and the dtype the CPU
dtype policy (``laser_plugin.compat.dtype``) picks on this CPU.

Rows (each dtype in its own fresh process, same seeds and inputs):
  matmul         [512, 576] @ [576, 1536], 1 thread and all threads (median of repeats)
  generate       one HF ``generate`` call of the quickstart's policy (SmolLM2-135M-Instruct, through
                 OpenRLHF's Actor in DeepSpeed): 8 prompts x 4 samples, 32 new tokens
  dpo_step       one OpenRLHF DPOTrainer optimizer step (4 pairs, micro-batch 2), the quickstart's
                 flags; mean over the steps of a quickstart round
  round          one default quickstart round (its prompts x samples, scoring, DPO, no checkpoint)
  quickstart     (``--quickstart``) the whole default ``laser-plugin quickstart`` command, wall time

On a CPU without native bf16 (no AVX512-BF16/AMX), bf16 is emulated: its ``round`` row reuses the
fp32 run's samples (so only scoring and DPO run in bf16) and ``--quickstart`` runs fp32 only, unless
``--full-bf16`` (hours). Where the CPU has native bf16, the fp32 path is forced with
``LASER_CPU_DTYPE=fp32`` and every row still runs in both dtypes.

    .venv/bin/python benchmarks/bench_cpu_speed.py [--quickstart] [--full-bf16]

Writes benchmarks/results/cpu_speed.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _matmul_ms(dtype, threads: int, repeats: int) -> float:
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(512, 576, generator=gen).to(dtype)
    b = torch.randn(576, 1536, generator=gen).to(dtype)
    a @ b  # warm-up (kernel selection)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def worker(args: argparse.Namespace) -> None:
    """One dtype, one process: every row this dtype runs, written as JSON to ``args.out``."""
    from laser_plugin.compat.cpu import available_cores, use_all_cores
    from laser_plugin.compat.dtype import TORCH_DTYPES, resolve_param_dtype

    dtype = resolve_param_dtype(None)  # LASER_CPU_DTYPE was set by the parent
    cores = available_cores()
    out: dict = {"dtype": dtype, "rows": {}}
    tdt = TORCH_DTYPES[dtype]
    out["rows"]["matmul_1t_ms"] = _matmul_ms(tdt, 1, args.repeats)
    out["rows"]["matmul_all_ms"] = _matmul_ms(tdt, cores, args.repeats)
    use_all_cores()

    from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate
    from laser_plugin.demo import data as demo_data
    from laser_plugin.demo.arms import default_pool
    from laser_plugin.demo.smollm2 import smollm2_checkpoint
    from laser_plugin.quickstart.config import QuickstartConfig
    from laser_plugin.quickstart.runner import Comparison, iterative_dpo_argv

    work = Path(args.workdir)
    cfg = QuickstartConfig(output_dir=work / f"qs_{dtype}", selectors=("laser",), rounds=1,
                           extra_args=("--laser.no_save_samples",))
    train_path, _ = demo_data.write(cfg.data, cfg.output_dir / "data")
    start = time.perf_counter()
    cmp = Comparison(cfg, iterative_dpo_argv(cfg, str(smollm2_checkpoint()), default_pool(), train_path)).setup()
    out["rows"]["setup_s"] = time.perf_counter() - start
    loop = cmp.loop
    prompts = [p.prompt for p in loop.prompts[:8]]
    scfg = SamplingConfig(4, cfg.temperature, 1.0, 32, 512, 32, seed=0)
    hf_generate(loop.model, loop.tokenizer, prompts[:2], SamplingConfig(1, 0.0, 1.0, 4, 512, 2), disable_progress=True)
    start = time.perf_counter()
    hf_generate(loop.model, loop.tokenizer, prompts, scfg, disable_progress=True)
    out["rows"]["generate_s"] = time.perf_counter() - start

    samples = None
    if args.samples_in:
        with open(args.samples_in, "rb") as fh:
            samples = pickle.load(fh)
    stats = loop.run_round(0, samples=samples)
    if args.samples_out:
        with open(args.samples_out, "wb") as fh:
            pickle.dump(loop.last_samples, fh)
    secs = stats["seconds"]
    out["rows"]["round_s"] = secs["total"] - secs["checkpoint"]
    out["rows"]["round_sample_s"] = secs["sample"]
    out["rows"]["round_reused_samples"] = samples is not None
    out["rows"]["dpo_steps"] = stats["optimizer_steps"]
    out["rows"]["dpo_step_s"] = secs["train"] / max(1, stats["optimizer_steps"])
    loop.bandit.close()
    Path(args.out).write_text(json.dumps(out))


def _run_worker(dtype: str, workdir: Path, repeats: int, samples_in: str = "", samples_out: str = "") -> dict:
    out = workdir / f"{dtype}.json"
    cmd = [sys.executable, __file__, "--worker", "--out", str(out), "--workdir", str(workdir),
           "--repeats", str(repeats)]
    if samples_in:
        cmd += ["--samples-in", samples_in]
    if samples_out:
        cmd += ["--samples-out", samples_out]
    env = {**os.environ, "LASER_CPU_DTYPE": dtype}
    print(f"[bench] {dtype}: {' '.join(cmd[2:])}", flush=True)
    subprocess.run(cmd, env=env, check=True, cwd=str(ROOT))
    return json.loads(out.read_text())


def _run_quickstart(dtype: str, workdir: Path) -> float:
    env = {**os.environ, "LASER_CPU_DTYPE": dtype}
    cmd = [str(Path(sys.executable).with_name("laser-plugin")), "quickstart", "--output-dir", str(workdir / f"full_{dtype}")]
    print(f"[bench] quickstart in {dtype}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=str(workdir))
    return time.perf_counter() - start


ROWS = [("matmul_1t_ms", "matmul [512,576]@[576,1536], 1 thread (ms)"),
        ("matmul_all_ms", "matmul, all threads (ms)"),
        ("generate_s", "HF generate, 8 prompts x 4 samples x 32 tokens (s)"),
        ("dpo_step_s", "DPO optimizer step, 4 pairs (s)"),
        ("round_s", "quickstart round, {prompts} prompts x {samples} samples x <= {tokens} tokens (s)"),
        ("quickstart_s", "whole default quickstart (s)")]


def _markdown(result: dict) -> str:
    bf, fp = result["bf16"], result["fp32"]
    lines = [
        "# CPU speed: bf16 vs fp32 (`benchmarks/bench_cpu_speed.py`)", "",
        f"CPU: {result['cpu']} ({result['cores']} cores); native bf16: **{result['native_bf16']}**; "
        f"the policy picks **{result['policy_dtype']}** ({result['policy_reason']}). Measured {result['date']}, "
        f"one run, both dtypes side by side (fresh process each, same inputs and seeds); load average at start "
        f"{result['load_at_start']:.2f}.", "",
        "| row | bf16 | fp32 | bf16 / fp32 |", "|---|---|---|---|",
    ]
    from laser_plugin.quickstart.config import QuickstartConfig as Q

    for key, label in ROWS:
        label = label.format(prompts=Q.prompts_per_round, samples=Q.n_samples, tokens=Q.max_new_tokens)
        a, b = bf.get(key), fp.get(key)
        if a is None and b is None:
            continue
        note = " (fp32 samples reused)" if key == "round_s" and bf.get("round_reused_samples") else ""
        ratio = f"{a / b:.2f}x" if a and b else "-"
        lines.append(f"| {label} | {'-' if a is None else f'{a:.3g}'}{note} | {'-' if b is None else f'{b:.3g}'} | {ratio} |")
    lines += ["", "bf16 / fp32 above 1 means bf16 is slower. Without native bf16 the policy runs fp32; with it, bf16.",
              "Reproduce: `.venv/bin/python benchmarks/bench_cpu_speed.py --quickstart`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quickstart", action="store_true", help="also time the whole default quickstart per dtype")
    p.add_argument("--full-bf16", action="store_true", help="run every bf16 row even where bf16 is emulated")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--output", default=str(RESULTS / "cpu_speed"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--samples-in", default="", help=argparse.SUPPRESS)
    p.add_argument("--samples-out", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    from laser_plugin.compat.dtype import cpu_dtype_choice, has_native_bf16

    native = has_native_bf16()
    policy, reason = cpu_dtype_choice(env={})
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_cpu_speed_") as tmp:
        work = Path(tmp)
        samples = str(work / "round0_samples.pkl")
        fp = _run_worker("fp32", work, args.repeats, samples_out=samples)
        bf = _run_worker("bf16", work, args.repeats, samples_in="" if native or args.full_bf16 else samples)
        if args.quickstart:
            fp["rows"]["quickstart_s"] = _run_quickstart("fp32", work)
            if native or args.full_bf16:
                bf["rows"]["quickstart_s"] = _run_quickstart("bf16", work)
    result = {"cpu": _cpu_model(), "cores": os.cpu_count(), "native_bf16": native, "policy_dtype": policy,
              "policy_reason": reason, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_at_start": load, "bf16": bf["rows"], "fp32": fp["rows"]}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output + ".json").write_text(json.dumps(result, indent=2))
    md = _markdown(result)
    Path(args.output + ".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
