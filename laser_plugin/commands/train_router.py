"""`laser-plugin train-router`: BayesianRouter's offline stage (arXiv 2510.02850).

Scores every preference pair with every arm of ``--reward_pool`` (cached per arm), labels which arms
ranked each pair correctly, trains the Bradley-Terry router and writes one safetensors file usable as
``--reward_selector bayesian_router --reward_selector.prior FILE``, plus a report (JSON + Markdown).
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-router",
        help="learn each reward arm's strengths from preference pairs (BayesianRouter's offline prior)",
        description="Train the offline router of BayesianRouter and write it as the prior of the online "
        "bayesian_router selector. Use the same --context_encoder, --context_dim and --seed online.",
    )
    p.add_argument("--dataset", "--data", dest="dataset", required=True, help="JSONL/JSON file, saved HF dataset or hub name")
    p.add_argument("--data.prompt_key", dest="prompt_key", default="prompt")
    p.add_argument("--data.chosen_key", dest="chosen_key", default="chosen")
    p.add_argument("--data.rejected_key", dest="rejected_key", default="rejected")
    p.add_argument("--data.label_key", dest="label_key", default=None, help="passed to func: arms as labels")
    p.add_argument("--data.split", dest="split", default="train")
    p.add_argument("--data.max_pairs", dest="max_pairs", type=int, default=None)
    p.add_argument("--reward_pool", required=True, help="pool spec: 'hf:PATH,func:FILE.py,http://...' or a file")
    p.add_argument("--output", "-o", required=True, help="router file (.safetensors)")
    p.add_argument("--report", default=None, help="report JSON (default: OUTPUT.report.json; a .md beside it)")
    p.add_argument("--context_encoder", default="minilm", help="minilm (PyPI all-MiniLM-L6-v2), hashing, or hf:PATH")
    p.add_argument("--context_dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="encoder seed; the online pool must use the same")
    p.add_argument("--heldout", type=float, default=0.2, help="fraction of pairs held out for the report")
    p.add_argument("--score_batch_size", type=int, default=16)
    p.add_argument("--cache_dir", default=None, help="score cache (default: OUTPUT.cache/)")
    p.add_argument("--device", default="cpu", help="device of hf: arms")
    p.add_argument("--router.proj_dim", dest="proj_dim", type=int, default=32)
    p.add_argument("--router.epochs", dest="epochs", type=int, default=300)
    p.add_argument("--router.lr", dest="lr", type=float, default=0.05)
    p.add_argument("--router.weight_decay", dest="weight_decay", type=float, default=1e-3)
    p.add_argument("--router.no_calibrate", dest="calibrate", action="store_false")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from laser_plugin.core.thompson import PRIOR_STRENGTH_WITH_PRIOR
    from laser_plugin.pool.pool import RewardPool
    from laser_plugin.router.data import load_pairs
    from laser_plugin.router.encoders import resolve_encoder
    from laser_plugin.router.model import RouterConfig
    from laser_plugin.router.pipeline import report_markdown, run_pipeline, write_outputs

    config = RouterConfig(proj_dim=args.proj_dim, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                          seed=args.seed, calibrate=args.calibrate)
    encoder = resolve_encoder(args.context_encoder, args.context_dim, args.seed)
    pairs = load_pairs(args.dataset, args.prompt_key, args.chosen_key, args.rejected_key, args.label_key,
                       args.split, args.max_pairs)
    pool = RewardPool(args.reward_pool, device=args.device)
    pool.load_all()
    cache = args.cache_dir or str(Path(args.output).with_suffix(".cache"))
    result = run_pipeline(pairs, pool, encoder, config, heldout=args.heldout, split_seed=args.seed,
                          batch_size=args.score_batch_size, cache_dir=cache)
    out, rep = write_outputs(result, args.output, encoder, config, args.report)
    print(report_markdown(result.report))
    print(f"router: {out}\nreport: {rep} (+ .md)\nscore cache: {cache} {result.report['score_cache']}")
    print(f"online: --reward_selector bayesian_router --reward_selector.prior {out} (context encoder "
          f"{encoder.identity}, dim {encoder.dim}, seed {encoder.seed}); the prior weighs as "
          f"--reward_selector.prior_strength {PRIOR_STRENGTH_WITH_PRIOR:g} unless you set it (lower: trust it less).")
    return 0
