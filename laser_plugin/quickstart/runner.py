"""Run every selector on the same model, prompts, seeds and budget, in one process.

The policy, reference, DeepSpeed engines and prompts are built once (``IterativeDPO.setup``). Before
training, the untouched engine state (weights, optimizer, LR schedule) is saved once with DeepSpeed's
own checkpointing; each selector then starts from it (``load_ckpt``) with a fresh bandit, so all
selectors see the same round-0 samples (same weights, same per-round sampling seed: drawn once, by the
first selector, and reused) and differ only in which RM scored them. Per-round checkpoints are off (``--ckpt.disable_ds``): nothing resumes here.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from laser_plugin.core.exploration import ABSTAINED
from laser_plugin.quickstart.config import QuickstartConfig
from laser_plugin.records import read_records

INIT_TAG = "init"


def iterative_dpo_argv(cfg: QuickstartConfig, model: str, pool: str, train_path: Path) -> list[str]:
    """The `laser-plugin iterative-dpo` flags the quickstart runs with (written to the report)."""
    argv = ["--model.model_name_or_path", model, "--data.dataset", train_path, "--data.prompt_key", "prompt",
            "--data.label_key", "answer", "--data.domain_key", "domain", "--data.apply_chat_template",
            "--data.max_len", cfg.max_len, "--rollout.n_samples_per_prompt", cfg.n_samples,
            "--rollout.temperature", cfg.temperature, "--rollout.max_new_tokens", cfg.max_new_tokens,
            "--rollout.batch_size", cfg.prompts_per_round * cfg.n_samples,  # one generate call: fastest on CPU
            "--train.micro_batch_size", cfg.micro_batch_size, "--train.batch_size", cfg.batch_size,
            "--train.seed", cfg.seed, "--ds.zero_stage", 0, "--adam.lr", cfg.lr, "--lr_warmup_ratio", 0,
            "--model.beta", cfg.beta, "--laser.rounds", cfg.rounds, "--laser.prompts_per_round", cfg.prompts_per_round,
            "--laser.score_batch_size", cfg.score_batch_size,
            "--reward_selector", "laser", "--reward_pool", pool, "--reward_selector.granularity", "group",
            "--reward_selector.context_dim", cfg.context_dim, "--reward_selector.seed", cfg.seed,
            "--ckpt.output_dir", cfg.output_dir / "runs", "--ckpt.disable_ds", *cfg.extra_args]
    return [str(a) for a in argv]


def _round_records(run_dir: Path, r: int) -> list[dict]:
    path = run_dir / "rounds" / f"round_{r}" / "samples.jsonl"
    return read_records(path) if path.exists() else []


class Comparison:
    def __init__(self, cfg: QuickstartConfig, argv: list[str]) -> None:
        self.cfg, self.argv = cfg, argv
        self.results: dict[str, Any] = {"selectors": {}, "argv": argv}
        # Every selector of a seed starts from the same weights: round 0 is sampled once per seed.
        self.round0_samples: dict[int, Any] = {}

    def setup(self) -> "Comparison":
        from laser_plugin.adapters.openrlhf.dpo.args import build_parser, hierarchical
        from laser_plugin.adapters.openrlhf.dpo.data import load_prompts
        from laser_plugin.adapters.openrlhf.dpo.loop import IterativeDPO
        from laser_plugin.adapters.openrlhf.flags import config_from_namespace
        from laser_plugin.compat import apply_cpu_compat

        start = time.perf_counter()
        ns = build_parser().parse_args(self.argv)
        self.laser = config_from_namespace(vars(ns))
        apply_cpu_compat()
        self.args = hierarchical(ns)
        self.loop = IterativeDPO(self.args, self.laser).setup()
        self.eval_items = load_prompts(self.args, self.loop.strategy, self.loop.tokenizer,
                                       dataset=str(self.cfg.output_dir / "data" / "eval.jsonl"))
        self.init_dir = self.cfg.output_dir / "init_state"
        self.loop.save_start(self.init_dir, INIT_TAG)
        self.results["arms"] = list(self.loop.bandit.arm_names)
        self.results["setup_seconds"] = time.perf_counter() - start
        return self

    def evaluate_rows(self, desc: str) -> list[dict[str, Any]]:
        """Greedy answers on the held-out prompts: one record (domain, label, response, gold) each."""
        from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate
        from laser_plugin.demo.data import gold

        items, c = self.eval_items, self.cfg
        scfg = SamplingConfig(1, 0.0, 1.0, c.max_new_tokens, 512, len(items), seed=c.seed)
        s = hf_generate(self.loop.model, self.loop.tokenizer, [it.prompt for it in items], scfg, desc=desc)
        rows = [{"domain": items[p].domain, "label": items[p].label, "response": r} for p, r in zip(s.prompt_index, s.responses)]
        for row in rows:
            row["gold"] = gold(row["response"], row["label"], row["domain"])
        return rows

    def evaluate(self, desc: str) -> dict[str, float]:
        """Greedy answers on the held-out prompts, gold metric per domain."""
        from laser_plugin.demo.data import gold_rows

        return gold_rows(self.evaluate_rows(desc))

    def _reset(self, selector: str, options: dict[str, Any], run_name: str, seed: int, signal: str,
               context: str | None, granularity: str | None, explore_by: str | None,
               audit_share: float | None = None) -> Path:
        # The seed drives the round prompts, sampling, pair order (train.seed) and the bandit's RNG.
        self.args.train.seed = seed
        self.loop.loop.audit_share = self.args.laser.audit_share if audit_share is None else float(audit_share)
        laser = dataclasses.replace(self.laser, selector=selector, selector_options=options, seed=seed,
                                    granularity=granularity or self.laser.granularity,
                                    explore_by=explore_by or self.laser.explore_by)
        self.loop.restart((self.init_dir, INIT_TAG), laser, self.cfg.output_dir / "runs" / run_name, signal,
                          context=context or self.args.laser.context)
        return self.loop.out_dir

    def close(self) -> None:
        """Close the last run's bandit (each ``restart`` closes the one before it)."""
        self.loop.bandit.close()

    def run_selector(self, selector: str, options: dict[str, Any], *, run_name: str = "", seed: int | None = None,
                     signal: str = "loss", context: str | None = None, granularity: str | None = None,
                     explore_by: str | None = None, audit_share: float | None = None) -> dict[str, Any]:
        """Every round of one selector from the start state; ``seed`` defaults to the config's,
        ``signal`` is the bandit's reward source (``--laser.signal``), ``context`` its features
        (``--laser.context``), ``granularity`` its decision unit (``--reward_selector.granularity``),
        ``explore_by`` whose scores train while it explores (``--reward_selector.explore_by``) and
        ``audit_share`` the audited share (``--laser.audit_share``), each defaulting to the command line's."""
        from laser_plugin.demo.data import gold_rows

        seed = self.cfg.seed if seed is None else seed
        run_name = run_name or selector
        run_dir = self._reset(selector, options, run_name, seed, signal, context, granularity, explore_by, audit_share)
        start = time.perf_counter()
        rounds = []
        for r in range(self.cfg.rounds):
            stats = self.loop.run_round(r, samples=self.round0_samples.get(seed) if r == 0 else None)
            if r == 0:
                self.round0_samples[seed] = self.loop.last_samples
            rounds.append({"round": r, "gold_samples": gold_rows(_round_records(run_dir, r)),
                           "arm_share_by_domain": stats.get("arm_share_by_domain", {}), "pairs": stats["pairs"],
                           "loss_mean": stats["loss_mean"], "signal_mean": stats["signal_mean"],
                           "explored": stats.get("explored", 0), "abstained": stats.get("abstained", 0),
                           "seconds": stats["seconds"]["total"]})
        train_seconds = time.perf_counter() - start
        metrics = self.loop.bandit.metrics()
        names = self.loop.bandit.arm_names
        out = {"options": options, "rounds": rounds, "train_seconds": train_seconds,
               "rm_calls": int(sum(metrics.get(f"pool/{n}/calls", 0.0) for n in names)),
               "rm_samples": int(sum(metrics.get(f"pool/{n}/samples", 0.0) for n in names)),
               "rm_seconds": float(sum(metrics.get(f"pool/{n}/seconds", 0.0) for n in names)),
               "arm_share_by_domain": _share(run_dir, self.cfg.rounds)}
        out["eval_rows"] = self.evaluate_rows(f"{run_name}: evaluate")
        out["eval"] = gold_rows(out["eval_rows"])
        out["wall_seconds"] = time.perf_counter() - start
        self.results["selectors"][run_name] = out
        return out


def _share(run_dir: Path, rounds: int | range) -> dict[str, dict[str, float]]:
    """Share of prompts scored for training by each arm, per domain, over the rounds ("ensemble": all
    arms; "abstained": no arm was believed better than chance, nothing trained, core.exploration)."""
    counts: dict[str, dict[str, int]] = {}
    for r in (range(rounds) if isinstance(rounds, int) else rounds):
        seen = set()
        for rec in _round_records(run_dir, r):
            if rec["prompt_index"] in seen:
                continue
            seen.add(rec["prompt_index"])
            arm = rec["arm"] if rec.get("trained", True) else ABSTAINED
            for dom in (rec["domain"], "all"):
                counts.setdefault(dom, {}).setdefault(arm, 0)
                counts[dom][arm] += 1
    return {d: {a: n / sum(c.values()) for a, n in sorted(c.items())} for d, c in counts.items()}
