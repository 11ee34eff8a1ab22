"""LASeR's iterative DPO on OpenRLHF (arXiv 2410.01735, Alg. 1), models loaded once for all rounds.

Per round r:  prompts -> policy context -> N temperature samples per prompt -> (rank 0) the bandit
picks an RM per scoring batch (or per prompt), only it scores -> pairs within each prompt ->
OpenRLHF's DPOTrainer (DPO/IPO with beta, optional NLL; reference = the starting model) -> each
micro-batch's per-row losses -> the bandit (through the normaliser) -> checkpoint (DeepSpeed state +
bandit state) -> round r+1 samples from the updated policy. ``--ckpt.load_enable`` /
``--laser.resume_round R`` continue after a finished round.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from laser_plugin.adapters.openrlhf.dpo import data as dpo_data, setup as dpo_setup
from laser_plugin.adapters.openrlhf.bandit import check_prior_contexts, make_bandit, make_featurizer
from laser_plugin.adapters.openrlhf.dpo.trainer import LaserDPOTrainer
from laser_plugin.adapters.openrlhf.dpo.report import RoundStats, print_summary
from laser_plugin.adapters.openrlhf.dpo.resume import BANDIT_FILE, RoundCheckpoints
from laser_plugin.adapters.openrlhf.dpo.scoring_signals import ScoringTimeSignals
from laser_plugin.adapters.openrlhf.generation import SamplingConfig, VLLMSampler, _hf_module, hf_generate
from laser_plugin.core.state_io import atomic_write_text, write_jsonl
from laser_plugin.dpo.dist import RankSync
from laser_plugin.dpo.credit import DecisionCredit, StepAttribution, all_abstained_warning, dpo_bandit_defaults
from laser_plugin.dpo.preference import build_pairs
from laser_plugin.dpo.sampling import DecisionGroupedOrder
from laser_plugin.dpo.scoring import policy_contexts, score_samples


def _clock() -> tuple[float, float]:
    """(wall, process CPU) seconds: CPU time of the phases stays comparable on a shared machine."""
    return time.perf_counter(), time.process_time()


class IterativeDPO(RoundCheckpoints, ScoringTimeSignals):
    def __init__(self, args: Any, laser: Any, loop: Optional[dpo_setup.LoopConfig] = None) -> None:
        self.loop = loop or dpo_setup.LoopConfig.from_args(args)
        laser = dpo_bandit_defaults(laser, self.loop.signal)
        self.args, self.laser = args, laser
        check_prior_contexts(laser, self.loop.context)  # before the models load
        self.out_dir = Path(args.ckpt.output_dir)
        self.history: list[dict] = []
        self.last_samples: Optional[tuple] = None  # (round, samples) of the last round, see run_round
        self.setup_seconds = 0.0

    # ------------------------------------------------------------------ setup
    def setup(self) -> "IterativeDPO":
        start = time.perf_counter()
        args = self.args
        self.strategy, model, ref_model, self.tokenizer = dpo_setup.build_models(args)
        self.sync = RankSync()
        self.prompts = dpo_data.load_prompts(args, self.strategy, self.tokenizer)
        steps = dpo_setup.scheduler_steps(args, self.loop, len(self.prompts))
        self.model, self.optim, self.scheduler, self.ref_model = dpo_setup.prepare(self.strategy, args, model, ref_model, steps)
        # Every rank holds the bandit; only rank 0 scores (and loads RMs on first use).
        self.bandit = make_bandit(self.laser, tokenizer=self.tokenizer)
        hf = _hf_module(self.model)
        self.featurizer = (make_featurizer(hf.config.hidden_size, self.laser)
                           if self.loop.context == "policy" else None)
        probe = (dpo_data.probe_batches(self.loop.probe_dataset, args, self.strategy, self.tokenizer,
                                        args.train.micro_batch_size) if self.loop.signal == "probe" else None)
        self.trainer = LaserDPOTrainer(
            model=self.model, ref_model=self.ref_model, tokenizer=self.tokenizer, strategy=self.strategy,
            optim=self.optim, train_dataloader=None, eval_dataloader=None, scheduler=self.scheduler,
            max_norm=args.max_norm, beta=args.model.beta, max_epochs=args.train.max_epochs,
            on_rows=self._on_rows, on_step=self._on_step if probe else None, probe_batches=probe,
            extra_logs=self._bandit_logs)
        args.ckpt.save_steps = -1  # rounds are checkpointed by the loop, not inside fit
        self.vllm = (VLLMSampler(args.model.model_name_or_path, args.vllm.num_engines, args.vllm.tensor_parallel_size,
                                 args.train.seed, args.data.max_len, args.vllm.gpu_memory_utilization,
                                 args.vllm.enforce_eager) if args.vllm.num_engines > 0 and self.sync.is_main else None)
        self.start_round = self._resume()
        self.setup_seconds = time.perf_counter() - start
        return self

    # ------------------------------------------------------------------ feedback hooks
    def _on_rows(self, rows: np.ndarray, losses: np.ndarray) -> None:
        gathered = self.sync.gather((rows.tolist(), losses.tolist()))
        if not self.sync.is_main:
            return
        for rws, ls in gathered:
            ls = np.asarray(ls, dtype=np.float64)
            rws = np.asarray(rws, dtype=np.int64)[np.isfinite(ls)]  # a NaN row is not evidence about an arm
            ls = ls[np.isfinite(ls)]
            self.stats.add_losses(self.pair_arms[rws], ls)
            if self.loop.signal == "loss" and len(rws):  # LASeR: r = -loss
                self._update(self.credit.add(self.pair_decisions[rws], -ls))

    def _on_step(self, rows: list, probe_loss: float) -> None:
        gathered = self.sync.gather(list(rows))
        if not self.sync.is_main:
            return
        self.attribution.add_rows(r for part in gathered for r in part)
        step_rows, gain = self.attribution.close_step(probe_loss)
        self.stats.probe_losses.append(float(probe_loss))
        if step_rows:
            self._update(self.credit.add(self.pair_decisions[step_rows], np.full(len(step_rows), gain)))

    def _update(self, completed: list[tuple[int, float]], *, calibrated: bool = False) -> None:
        if completed:
            ids, values = zip(*completed)
            rows = getattr(self, "credit", None)  # none yet when the verifier signal feeds round 0
            weights = [rows.weight_of.get(i, 1.0) if rows is not None else 1.0 for i in ids]
            self.stats.add_update(self.bandit.update(list(ids), list(values), calibrated=calibrated), values, weights)

    def _bandit_logs(self) -> dict:
        return {k: v for k, v in self.bandit.metrics().items() if k.startswith("laser/")} if self.sync.is_main else {}

    # ------------------------------------------------------------------ one round
    def _round_prompts(self, r: int) -> list:
        k = self.loop.prompts_per_round
        if not k or k >= len(self.prompts):
            return list(self.prompts)
        pick = np.random.default_rng(self.args.train.seed + 1009 * r).choice(len(self.prompts), k, replace=False)
        return [self.prompts[i] for i in sorted(pick.tolist())]

    def _sample(self, r: int, items: list) -> tuple[list[int], list[str], Optional[list], Optional[np.ndarray]]:
        """Contexts (and, with HF generate, samples) on each rank's share of the prompts, gathered
        everywhere; with vLLM rank 0 samples all prompts and broadcasts."""
        import torch

        a, shard = self.args, self.sync.shard(list(range(len(items))))
        cfg = SamplingConfig(a.rollout.n_samples_per_prompt, a.rollout.temperature, a.rollout.top_p,
                             a.rollout.max_new_tokens, a.rollout.prompt_max_len, a.rollout.batch_size,
                             seed=a.train.seed + 7919 * (r + 1) + self.sync.rank)
        texts = [items[i].prompt for i in shard]
        ctx = (policy_contexts(_hf_module(self.model), self.tokenizer, texts, self.featurizer, max_len=cfg.prompt_max_len)
               if self.featurizer is not None and texts else None)
        contexts = None
        if self.featurizer is not None:
            contexts = np.zeros((len(items), self.laser.context_dim))
            for part_idx, part_ctx in self.sync.gather((shard, None if ctx is None else ctx.tolist())):
                if part_ctx is not None:
                    contexts[part_idx] = np.asarray(part_ctx)
        if a.vllm.num_engines > 0:
            out = None
            if self.sync.is_main:
                samples = self.vllm.generate(self.tokenizer, [it.prompt for it in items], cfg)
                out = (samples.prompt_index, samples.responses)
            pidx, resp = self.sync.broadcast(out)
            return pidx, resp, None, contexts
        samples = hf_generate(self.model, self.tokenizer, texts, cfg, desc=f"round {r} sampling",
                              disable_progress=not self.sync.is_main)
        local = ([shard[i] for i in samples.prompt_index], samples.responses, [s.tolist() for s in samples.sequences])
        parts = self.sync.gather(local)
        pidx = [p for part in parts for p in part[0]]
        resp = [x for part in parts for x in part[1]]
        seqs = [torch.as_tensor(x) for part in parts for x in part[2]]
        return pidx, resp, seqs, contexts

    def run_round(self, r: int, samples: Optional[tuple] = None) -> dict:
        """One round. ``samples`` (a previous ``last_samples`` of the same round from the same weights,
        e.g. round 0 of another selector in a comparison) replaces sampling: seeded sampling would
        draw exactly them again."""
        a, t = self.args, {"start": _clock()}
        items = self._round_prompts(r)
        if samples is not None and samples[0] != r:
            raise ValueError(f"samples of round {samples[0]} cannot stand in for round {r}")
        pidx, responses, seqs, contexts = samples[1] if samples is not None else self._sample(r, items)
        self.last_samples = (r, (pidx, responses, seqs, contexts))
        t["sampled"] = _clock()
        self.stats = RoundStats(r, self.bandit.arm_names, self.bandit.metrics() if self.sync.is_main else None)
        payload = None
        if self.sync.is_main:
            immediate = {"verifier": self._verifier_signal, "audit": self._audit_signal,
                         "auto": self._auto_signal}.get(self.loop.signal)
            scored = score_samples(self.bandit, items, pidx, responses, self.loop.score_batch_size, contexts, seqs,
                                   self.tokenizer.pad_token_id, after_call=immediate)
            pairs = [p for p in build_pairs(pidx, responses, scored.rewards, self.loop.pair)
                     if int(scored.decision_ids[p.chosen]) not in scored.abstained]  # no arm believed: no pair
            pairs = [p for p in pairs if dpo_data.prompt_fits(self.tokenizer, items[p.group].prompt, a.data.max_len)]
            rows = [{"prompt": items[p.group].prompt, "chosen": responses[p.chosen], "rejected": responses[p.rejected]}
                    for p in pairs]
            payload = (rows, [int(scored.decision_ids[p.chosen]) for p in pairs],
                       [int(scored.arms[p.chosen]) for p in pairs])
            self.stats.record_scoring(items, pidx, responses, scored, pairs)
            if self.loop.save_samples:
                self._save_samples(r, items, pidx, responses, scored, pairs)
        rows, decisions, arms = self.sync.broadcast(payload)
        t["scored"] = _clock()
        self.pair_decisions, self.pair_arms = np.asarray(decisions, np.int64), np.asarray(arms, np.int64)
        order = DecisionGroupedOrder(decisions, a.train.micro_batch_size, a.train.batch_size, self.sync.world_size,
                                     self.sync.rank, seed=a.train.seed + r)
        steps = len(order.global_order) // a.train.batch_size
        # With several epochs a decision's rows come back each epoch: it is fed once, after the last.
        expected = {d: n * a.train.max_epochs for d, n in order.trained_counts(decisions).items()}
        self.credit, self.attribution = DecisionCredit(expected), StepAttribution()
        if steps > 0:
            loader = dpo_data.pair_loader(dpo_data.pair_dataset(rows, self.tokenizer, a.data.max_len, self.strategy),
                                          order, a.train.micro_batch_size, self.strategy, a.data.dataloader_num_workers)
            self.stats.train_logs = self.trainer.run_round(a, loader, steps)
        else:
            self.strategy.print(f"[laser] round {r}: {len(rows)} pairs < one batch of {a.train.batch_size}; no DPO step")
        if self.sync.is_main:
            self._update(self.credit.flush())
        self.sync.sync_state(self.bandit)
        digest = self.sync.check_same_state(self.bandit)  # every rank must hold the same bandit state
        t["trained"] = _clock()
        self._checkpoint(r)
        t["saved"] = _clock()
        stats = self.stats.finish(self.bandit, len(rows), len(order.global_order), steps, t, self.loop.signal)
        stats.update(ranks=self.sync.world_size, bandit_state_digest=digest)
        if self.sync.is_main:
            path = self.out_dir / "rounds" / f"round_{r}"
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path / "summary.json", json.dumps(stats, indent=2))
            self._commit(r)  # only now may a resume start after round r
            self.trainer.log_scalars("laser_round", stats, r)
            shares = ", ".join(f"{k} {v:.2f}" for k, v in stats["arm_share"].items())
            loss = "-" if stats["loss_mean"] is None else f"{stats['loss_mean']:.4f}"
            print(f"[laser] round {r}/{self.loop.rounds - 1}: {stats['pairs']} pairs, loss {loss}, arms [{shares}], "
                  f"{stats['seconds']['total']:.1f}s", flush=True)
            warning = all_abstained_warning(stats, self.loop.signal)
            if warning:
                print(f"[laser] WARNING round {r}: {warning}", flush=True)
        if self.vllm is not None:  # the engines sample the next round from the updated policy
            hf_dir = str(self.out_dir / "rounds" / f"round_{r}" / "hf")
            self.strategy.save_model(self.model, self.tokenizer, hf_dir)
            self.vllm.refresh(hf_dir)
        self.history.append(stats)
        return stats

    def _save_samples(self, r: int, items: list, pidx: list, responses: list, scored: Any, pairs: list) -> None:
        names = self.bandit.arm_names
        arm = lambda i: names[int(scored.arms[i])] if scored.arms[i] >= 0 else "ensemble"  # noqa: E731
        path = self.out_dir / "rounds" / f"round_{r}"
        write_jsonl(path / "samples.jsonl", ({
            "round": r, "prompt_index": items[p].index, "domain": items[p].domain, "label": items[p].label,
            "response": responses[i], "reward": float(scored.rewards[i]), "raw_score": float(scored.raw[i]),
            "arm": arm(i), "decision": int(scored.decision_ids[i]),
            "trained": int(scored.decision_ids[i]) not in scored.abstained} for i, p in enumerate(pidx)))
        write_jsonl(path / "pairs.jsonl", ({
            "round": r, "prompt_index": items[p.group].index, "domain": items[p.group].domain, "chosen": responses[p.chosen],
            "rejected": responses[p.rejected], "gap": p.gap, "arm": arm(p.chosen)} for p in pairs))

    # ------------------------------------------------------------------ all rounds
    # ------------------------------------------------ several runs, one process
    def save_start(self, path: Path, tag: str) -> None:
        """Save the state every later ``restart`` begins from (weights, fp32 masters, Adam, LR schedule)."""
        self.strategy.save_ckpt(self.model.model, str(path), tag, 1, 1e9, {})

    def restart(self, start: tuple[Path, str], laser: Any, out_dir: Path, signal: str,
                context: Optional[str] = None) -> None:
        """Begin another run in this process (the quickstart compares selectors with one setup): the
        policy back at ``start`` (``save_start``), a fresh bandit for ``laser`` (learning from
        ``signal``, with ``context``'s features when given), no history, round checkpoints and
        outputs under ``out_dir``."""
        if context is not None and context not in dpo_setup.CONTEXTS:
            raise ValueError(f"--laser.context must be one of {dpo_setup.CONTEXTS}, got {context!r}")
        laser = dpo_bandit_defaults(laser, signal)
        check_prior_contexts(laser, context or self.loop.context)
        self.strategy.load_ckpt(self.model.model, str(start[0]), tag=start[1])
        self.trainer.step_offset = 0
        if getattr(self, "bandit", None) is not None:
            self.bandit.close()
        self.laser, self.loop.signal = laser, signal
        if context is not None and context != self.loop.context:
            self.loop.context = context
            self.featurizer = (make_featurizer(_hf_module(self.model).config.hidden_size, laser)
                               if context == "policy" else None)
        self.bandit = make_bandit(laser, tokenizer=self.tokenizer)
        self.history, self.out_dir = [], Path(out_dir)
        self.args.ckpt.path = str(self.out_dir / "checkpoints")

    def run(self) -> list[dict]:
        for r in range(self.start_round, self.loop.rounds):
            self.run_round(r)
        # laser_summary.json is written last: without it the final model may be half written (a crash)
        if self.start_round < self.loop.rounds or not (self.out_dir / "laser_summary.json").exists():
            self.strategy.save_model(self.model, self.tokenizer, str(self.out_dir))
        if self.sync.is_main:
            self.bandit.save(self.out_dir / BANDIT_FILE)
            atomic_write_text(self.out_dir / "laser_summary.json", json.dumps(
                {"selector": self.laser.selector, "signal": self.loop.signal,
                 "arms": self.bandit.arm_names, "setup_seconds": self.setup_seconds, "rounds": self.history}, indent=2))
            print_summary(self.history, self.bandit.arm_names, self.laser.selector, self.loop.signal)
        self.trainer.close_loggers()
        return self.history


__all__ = ["IterativeDPO"]
