"""GRPO in TRL with a LASeR reward pool: one bandit-chosen reward model per prompt group.

    # CPU, no downloads: a tiny policy and two tiny OpenRLHF reward models built in-process, plus the
    # math verifier func arm (about a minute on 2 cores)
    python examples/trl_grpo_laser.py --tiny --output_dir /tmp/trl_grpo_laser

    # real models (GPU): any causal LM, OpenRLHF/HF sequence-regression RMs, func: and http: arms
    python examples/trl_grpo_laser.py --model Qwen/Qwen2.5-0.5B-Instruct \
        --pool "hf:Skywork/Skywork-Reward-V2-Qwen3-0.6B@skywork,hf:/rms/internlm@internlm,func:examples/reward_funcs/math_verifier.py@verifier" \
        --device cuda --steps 200 --output_dir runs/grpo_laser

Resume: rerun the same command with ``--resume`` (TRL's last checkpoint in --output_dir; the bandit
state is restored from ``checkpoint-N/laser_bandit.safetensors``). Per-arm choice share, bandit
rewards and pool timings are logged as ``laser/*`` and ``pool/*`` next to TRL's own metrics; every
decision is in ``<output_dir>/laser_decisions.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from laser_plugin.config import SIGNALS

ROOT = Path(__file__).resolve().parents[1]
VERIFIER = ROOT / "examples" / "reward_funcs" / "math_verifier.py"


def arithmetic_dataset(n: int, seed: int = 0):
    """Prompts 'What is A plus B?' with the answer as a label column (the verifier arm reads it)."""
    from datasets import Dataset

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(0, 20), rng.randint(0, 20)
        rows.append({"prompt": f"What is {a} plus {b}? The answer is", "answer": str(a + b)})
    return Dataset.from_list(rows)


def build_tiny(work: Path) -> tuple[str, str]:
    """A tiny Llama policy and two tiny OpenRLHF RMs (one normalised via config mean/std)."""
    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.testing.tiny_models import build_tiny_llama, build_tiny_reward_model, build_tokenizer

    apply_cpu_compat()
    tok = build_tokenizer(work / "tokenizer")
    policy = build_tiny_llama(work / "policy", tok, seed=0)
    rm_a = build_tiny_reward_model(work / "rm_a", policy, tok, seed=1)
    rm_b = build_tiny_reward_model(work / "rm_b", policy, tok, seed=2, mean=0.5, std=2.0)
    return str(policy), f"hf:{rm_a}@rm_a,hf:{rm_b}@rm_b,func:{VERIFIER}@verifier"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="build a tiny policy and RMs in-process (CPU, no hub)")
    p.add_argument("--model", help="policy (path or hub id); required without --tiny")
    p.add_argument("--pool", help="reward pool spec (hf:/func:/http: arms or a .yaml/.json file)")
    p.add_argument("--selector", default="laser")
    p.add_argument("--granularity", default="group", choices=("group", "batch"))
    # GRPO's loss is ~0 whatever the rewards (advantages are centred per group), so -loss cannot tell
    # arms apart; the router's default (None) is the cross-arm audit, or the verifier with --verifier.
    p.add_argument("--signal", default=None, choices=SIGNALS,
                   help="bandit reward (default: verifier with --verifier, else audit); loss: LASeR's -loss")
    p.add_argument("--verifier", default=None, help="arm name for --signal verifier")
    p.add_argument("--residency", type=int, default=1, help="hf: RMs kept on the device at once")
    p.add_argument("--device", default="cpu", help="device of the RMs: cpu, cuda, auto")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--batch_size", type=int, default=8, help="completions per device per step")
    p.add_argument("--num_generations", type=int, default=4)
    p.add_argument("--max_completion_length", type=int, default=12)
    p.add_argument("--save_steps", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default="trl_grpo_laser_out")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --output_dir")
    args = p.parse_args(argv)
    if not args.tiny and not (args.model and args.pool):
        p.error("give --model and --pool, or --tiny")

    os.environ.setdefault("WANDB_MODE", "disabled")
    from trl import GRPOConfig, GRPOTrainer

    from laser_plugin.adapters.trl import LaserRewardRouter

    work = Path(args.output_dir) / "tiny_models"
    if args.tiny:
        work.mkdir(parents=True, exist_ok=True)
        model, pool = build_tiny(work)
    else:
        model, pool = args.model, args.pool
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    router = LaserRewardRouter(
        pool, selector=args.selector, granularity=args.granularity, signal=args.signal, verifier=args.verifier,
        seed=args.seed, policy_tokenizer=tokenizer, pool_kwargs={"residency": args.residency, "device": args.device},
    )
    config = GRPOConfig(
        output_dir=args.output_dir, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        num_generations=args.num_generations, max_completion_length=args.max_completion_length,
        learning_rate=args.lr, logging_steps=1, save_steps=args.save_steps, save_only_model=False,
        report_to=[], seed=args.seed, use_cpu=args.device == "cpu", bf16=False, temperature=1.0,
        log_completions=False,
    )
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[router], args=config,
                          train_dataset=arithmetic_dataset(args.prompts, args.seed), callbacks=[router.callback()])
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    last = {k: v for k, v in trainer.state.log_history[-2].items() if k.startswith(("laser/select", "loss"))}
    summary = {"decisions": len(router.decision_log), "arms": [d["arm"] for d in router.decision_log],
               "last_log": last, "output_dir": args.output_dir}
    print(json.dumps(summary, indent=1))
    router.close()
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
