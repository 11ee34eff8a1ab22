"""The PPO/GRPO hook: OpenRLHF's experience maker with rewards from ONE bandit-chosen RM.

Upstream ``RemoteExperienceMaker.make_experience(samples_list)`` calls its reward-model group only
when ``samples_list[0].rewards is None``. ``LaserExperienceMaker`` overrides just that method: it
asks the bandit for an arm per micro-batch (``granularity batch``, LASeR's setting) or per prompt
group (``granularity group``: the whole rollout is scored in one call, so a group that a micro-batch
boundary or ``--train.dynamic_batch_enable`` cuts still gets ONE decision), has the pool score with
that arm only, stores the rewards on the samples, and hands over to the upstream method, which
then skips its own RM call.

The bandit (selector, signal normaliser, context encoder) lives here, in the PPOTrainer process,
so there is exactly one bandit state; the RMs live in OpenRLHF's reward actor group (our shards,
see ``reward_shard.py``), which may span GPUs and nodes under ZeRO-3.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np
import torch

from laser_plugin.adapters.openrlhf.bandit import make_bandit
from laser_plugin.adapters.openrlhf.ppo.pool_actor_group import PoolActorGroup
from laser_plugin.adapters.openrlhf.ppo.probe import PolicyProbe
from laser_plugin.adapters.openrlhf.ppo.preflight import GROUP_ESTIMATORS, check_upstream_args
from laser_plugin.adapters.openrlhf.ppo.trainer_hooks import state_dir, wrap_trainer
from laser_plugin.config import LaserConfig
from laser_plugin.pool.bandit_pool import BanditRewardPool
from laser_plugin.pool.specs import parse_pool_spec
from laser_plugin.pool.types import ScoringBatch
from laser_plugin.signals import group_informativeness, mean_by_decision, surrogate_gain, verifier_agreement
from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker



class _AttachedPoolGroup(PoolActorGroup):
    """The shards OpenRLHF already created as its reward group (reward_shard.LaserRewardShard)."""

    def __init__(self, specs: list, reward_model_group: Any) -> None:
        self.specs = specs
        self.group = reward_model_group
        self.actors = list(reward_model_group._actor_handlers)


def build_bandit(config: LaserConfig, reward_model_group: Any) -> BanditRewardPool:
    """The bandit over the arms of OpenRLHF's reward group (the scoring runs there)."""
    remote_pool = _AttachedPoolGroup(parse_pool_spec(config.pool), reward_model_group).as_pool(
        residency=config.residency, quarantine_s=config.quarantine_s)
    return make_bandit(config, pool=remote_pool)


class LaserExperienceMaker(RemoteExperienceMaker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = LaserConfig.from_env()
        if config is None:
            raise RuntimeError("LaserExperienceMaker needs LASER_PLUGIN_CONFIG (set by laser_plugin activation)")
        if self.reward_model_group is None:
            raise RuntimeError("--reward_selector needs OpenRLHF's reward group (do not pass --reward.remote_url)")
        check_upstream_args(self.args)  # the launcher activates before upstream parses its args
        self.laser_config = config
        self.bandit = build_bandit(config, self.reward_model_group)
        self._verifier_arm: Optional[int] = (
            self.bandit.arm_names.index(config.verifier) if config.signal == "verifier" else None
        )
        self._step_experiences: list[Any] = []  # signals loss, probe: this step's experiences, judged after the update
        self._probe: Optional[PolicyProbe] = None
        self._probe_value: Optional[float] = None  # the probe measured before the coming update
        if config.signal == "probe":
            group = self.actor_model_group
            self._probe = PolicyProbe(config.probe_dataset, self.args, self.tokenizer,
                                      chunks=len(group._actor_handlers) // group.duplicate_actors)
        self._step_signals: list[float] = []
        self._step_arms: list[dict[str, Any]] = []  # this step's decisions, for the decision log
        self._generated: list[dict[str, Any]] = []  # decisions made during generation (dynamic filtering)

    def attach(self, trainer: Any) -> None:
        """Called once by the trainer that built this maker, at the end of its ``__init__`` (the
        activation wraps ``BasePPOTrainer.__init__``): its step, checkpoint and resume hooks, and
        scoring during generation for dynamic filtering."""
        wrap_trainer(trainer)
        if getattr(self.args.algo, "dynamic_filtering_enable", False):
            generator = getattr(trainer, "samples_generator", None)
            if generator is None:
                raise RuntimeError("--algo.dynamic_filtering_enable with --reward_selector needs the samples "
                                   "generator in the trainer process (not --train.async_enable)")
            score_groups_during_generation(generator, self)

    # -------------------------------------------------------------- scoring (the hook)
    def _scoring_batch(self, samples_list: list) -> ScoringBatch:
        """One ScoringBatch over several micro-batches (OpenRLHF right-pads each; re-pad to one width)."""
        n_per_prompt = self.args.rollout.n_samples_per_prompt
        queries, prompts, labels, index = [], [], [], []
        has_labels = all(s.labels for s in samples_list)
        for s in samples_list:
            texts = self.tokenizer.batch_decode(s.sequences, skip_special_tokens=True)
            queries.extend(texts)
            prompts.extend(list(s.prompts) if s.prompts else [""] * len(texts))
            labels.extend(list(s.labels) if has_labels else [])
            index.extend(list(s.index) if s.index else [])
        responses = [q[len(p):] if q.startswith(p) else q for q, p in zip(queries, prompts)]
        # Rollout samples are ordered prompt by prompt: sample i answers prompt i // n.
        group_ids = np.asarray(index, dtype=np.int64) // n_per_prompt if len(index) == len(queries) else None
        width = max(int(s.sequences.shape[-1]) for s in samples_list)
        pad = self.tokenizer.pad_token_id or 0
        sequences = torch.cat([torch.nn.functional.pad(s.sequences, (0, width - s.sequences.shape[-1]), value=pad)
                               for s in samples_list])
        masks = [s.attention_mask if s.attention_mask is not None else s.sequences.ne(pad) for s in samples_list]
        attention_mask = torch.cat([torch.nn.functional.pad(m, (0, width - m.shape[-1]), value=0) for m in masks])
        return ScoringBatch(queries=queries, prompts=prompts, responses=responses,
                            labels=labels if has_labels else None, group_ids=group_ids,
                            sequences=sequences, attention_mask=attention_mask)

    def _check_whole_groups(self, batch: ScoringBatch) -> None:
        """granularity batch: a micro-batch that cuts a prompt group would give the group two arms."""
        n = self.args.rollout.n_samples_per_prompt
        if n <= 1 or batch.group_ids is None or self.args.algo.advantage.estimator not in GROUP_ESTIMATORS:
            return
        _, counts = np.unique(batch.group_ids, return_counts=True)
        if np.any(counts != n):
            raise RuntimeError(
                f"--reward_selector.granularity batch: a rollout micro-batch holds part of a prompt group "
                f"(group sizes {counts.tolist()}, --rollout.n_samples_per_prompt {n}), so one group would be "
                "scored by two arms; use --reward_selector.granularity group, or a --rollout.micro_batch_size "
                "that is a multiple of --rollout.n_samples_per_prompt without --train.dynamic_batch_enable"
            )

    def score_samples(self, samples_list: list, log: Optional[list] = None) -> Any:
        """Score ``samples_list`` (micro-batches) with ONE bandit call: one decision for all of them
        (granularity batch: pass one micro-batch) or one per prompt group, even when a micro-batch
        cuts a group (granularity group). Stores rewards on the samples; returns the ScoreResult."""
        batch = self._scoring_batch(samples_list)
        if self.laser_config.granularity == "batch":
            self._check_whole_groups(batch)
        result = self.bandit.score(batch)
        rewards = torch.as_tensor(result.rewards, dtype=torch.float32)
        start = 0
        for samples in samples_list:
            n = len(samples.sequences)
            samples.rewards = rewards[start:start + n].clone()
            samples.info["reward"] = samples.rewards
            samples.laser_decisions = result.decision_ids[start:start + n]  # per row, for the loss credit
            start += n
        self._record(result, batch, log)
        return result

    def _record(self, result: Any, batch: ScoringBatch, log: Optional[list] = None) -> None:
        """Log the decisions and feed immediate signals back (the loss signal waits for the step).
        ``log``: where the decision-log rows go (generation-time decisions wait for their step)."""
        decisions = np.unique(result.decision_ids)
        for d in decisions:
            rows = result.decision_ids == d
            arm = int(result.arms[rows][0])
            name = "ensemble" if arm < 0 else self.bandit.arm_names[arm]
            (self._step_arms if log is None else log).append({"decision": int(d), "arm": name, "rows": int(rows.sum())})
        signal = self.laser_config.signal
        if signal in ("loss", "probe"):  # delayed: judged after the policy update (finish_step)
            return
        if signal == "audit":
            for out in self.bandit.audit_share_of(result, batch, self.laser_config.audit_share, self.laser_config.seed):
                self._step_signals.extend(out["agreement"][out["arms"]].tolist())
            return
        for d in decisions:  # immediate signals, one per decision, from the rows it scored
            rows = result.decision_ids == d
            groups = batch.group_ids[rows] if batch.group_ids is not None else None
            if signal == "group_variance":
                value = group_informativeness(result.raw_scores[rows], groups)
            else:
                truth = self.bandit.pool.score_raw(batch.select(np.flatnonzero(rows)), self._verifier_arm)
                value = verifier_agreement(result.raw_scores[rows], truth, groups)
            self.bandit.update([d], [value])
            self._step_signals.append(value)

    def _score_micro_batch(self, samples: Any) -> None:
        self.score_samples([samples])

    def score_rollout(self, samples_list: list) -> list:
        """Every micro-batch not scored yet: one call per micro-batch (granularity batch, LASeR's
        per-batch decision) or one call for all of them (granularity group: a group cut by a
        micro-batch boundary, or regrouped by --train.dynamic_batch_enable, keeps one arm)."""
        todo = [s for s in samples_list if s.rewards is None]
        if not todo:
            return []
        if self.laser_config.granularity == "group":
            return [self.score_samples(todo)]
        return [self.score_samples([samples]) for samples in todo]

    # -------------------------------------------------------------- dynamic filtering
    def score_group_for_filter(self, experiences: list) -> None:
        """One prompt group, as generated: one decision, rewards on the samples and ``scores`` for
        upstream's filter (the chosen arm's raw score; an ensemble's combined reward)."""
        for i, e in enumerate(experiences):
            e.index = [i]  # one group (index // n == 0); split_rollout_samples renumbers later
        result = self.score_samples(experiences, log=self._generated)
        scores = result.rewards if self.bandit.selector.uses_all_arms else result.raw_scores
        for e, score, decision in zip(experiences, np.asarray(scores, dtype=np.float64), result.decision_ids):
            e.scores = torch.tensor([float(score)])
            e.info["score"] = e.scores
            e.info[DECISION_KEY] = torch.tensor([int(decision)])

    @torch.no_grad()
    def make_experience_batch(self, rollout_samples: list) -> list:
        kept = [int(e.info.pop(DECISION_KEY)[0]) for e in rollout_samples if DECISION_KEY in e.info]
        if kept:  # scored during generation: these decisions are trained on in this step
            trained = set(kept)
            for row in self._generated:  # the others were filtered out (or wait in upstream's buffer)
                row["trained"] = row["decision"] in trained
            self._step_arms.extend(self._generated)
            self._generated = []
        if self._probe is not None and self._probe_value is None:  # the policy before its first update here
            self._probe_value = self._probe.value(self._policy_log_probs)
        experiences = super().make_experience_batch(rollout_samples)
        if self.laser_config.signal in ("loss", "probe"):
            for e in experiences:
                if getattr(e, "laser_decisions", None) is None:  # scored during generation, then regrouped:
                    if len(kept) != len(rollout_samples):  # upstream numbered the rows by rollout position
                        raise RuntimeError(f"--reward_selector.signal {self.laser_config.signal}: "
                                           f"{len(rollout_samples) - len(kept)} of "
                                           f"{len(rollout_samples)} rollout samples carry no bandit decision")
                    e.laser_decisions = np.asarray(kept)[np.asarray(e.index)]
            self._step_experiences.extend(experiences)
        return experiences

    @torch.no_grad()
    def make_experience(self, samples_list: list) -> list:
        self.score_rollout(samples_list)
        return super().make_experience(samples_list)

    # -------------------------------------------------------------- feedback, metrics, state
    def _policy_log_probs(self, experiences: list) -> list:
        """The actor's action log-probs of ``experiences`` now, by the same remote forward that
        upstream's make_experience uses for the old log-probs."""
        args = self.args
        refs = self._dispatch_forward(
            self.actor_model_group, args.train.colocate_all or args.train.colocate_actor_ref,
            sequences=[e.sequences for e in experiences], action_mask=[e.action_mask for e in experiences],
            attention_mask=[e.attention_mask for e in experiences])
        return self._flatten_results(refs, args.ds.ring_attn_size * args.ds.tensor_parallel_size)

    def _loss_credit(self) -> tuple[np.ndarray, np.ndarray]:
        """Per decision of this step: the drop of its own rows' PPO-clip loss across the policy
        update (signals.surrogate_gain), not the step's loss broadcast to every decision."""
        experiences = self._step_experiences
        clip = tuple(getattr(self.args.actor, "eps_clip_low_high", None) or (0.2, 0.2))
        gains = [surrogate_gain(e.action_log_probs.float().numpy(), new.float().numpy(),
                                e.advantages.float().numpy(), e.action_mask.numpy(), clip)
                 for e, new in zip(experiences, self._policy_log_probs(experiences))]
        return mean_by_decision(np.concatenate(gains), np.concatenate([e.laser_decisions for e in experiences]))

    def _probe_credit(self) -> tuple[np.ndarray, np.ndarray]:
        """Every decision of this step: the rise of the probe value across the update. One number for
        the step (the probe cannot tell which rows moved it); the ridge regression attributes it over
        steps with different arm mixes, exactly with one decision per step (granularity batch, one
        micro-batch per step)."""
        before, self._probe_value = self._probe_value, self._probe.value(self._policy_log_probs)
        ids = np.unique(np.concatenate([e.laser_decisions for e in self._step_experiences]))
        return ids, np.full(len(ids), self._probe_value - before)

    def finish_step(self, status: dict[str, Any], global_step: int) -> dict[str, float]:
        """Close a training step: feed the delayed loss signal back to the decisions that made this
        step's rewards, append them to the decision log, and return metrics for OpenRLHF's logger."""
        if self._step_experiences:
            if status.get("policy_loss", status.get("actor_loss")) is None:
                # the actor made no update (dynamic filtering left fewer samples than one train batch,
                # which upstream's replay buffer drops; or a frozen actor): the decisions stay pending
                print(f"[laser_plugin] step {global_step}: no policy update, loss feedback skipped")
            else:
                ids, values = self._loss_credit() if self._probe is None else self._probe_credit()
                self.bandit.update(ids, values)
                self._step_signals.extend(values.tolist())
        metrics = dict(self.bandit.metrics())
        if self._probe_value is not None:
            metrics["laser/probe_value"] = self._probe_value
        if self._step_signals:
            metrics["laser/signal"] = float(np.mean(self._step_signals))
        os.makedirs(state_dir(self.args, self.laser_config), exist_ok=True)
        with open(os.path.join(state_dir(self.args, self.laser_config), "decisions.jsonl"), "a") as fh:
            for row in self._step_arms:
                fh.write(json.dumps({"global_step": int(global_step), **row}) + "\n")
        shares = {k[len("laser/select/"):]: round(v, 3) for k, v in metrics.items() if k.startswith("laser/select/")}
        # One readable line per step in the driver log (Ray forwards actor stdout).
        print(f"[laser_plugin] step {global_step}: arms {[r['arm'] for r in self._step_arms]}, "
              f"selection share so far {shares}, signal {metrics.get('laser/signal', float('nan')):.4g}")
        self._step_experiences, self._step_signals, self._step_arms = [], [], []
        return metrics


DECISION_KEY = "laser_decision"  # per-sample decision id of generation-time scoring (popped before use)


def score_groups_during_generation(generator: Any, maker: LaserExperienceMaker) -> None:
    """``--algo.dynamic_filtering_enable``: upstream's ``SamplesGenerator._generate_vllm`` turns the
    n responses of one prompt into experiences (``_process_response_into_experience``, one call per
    response, consecutively) and then drops the group if the mean of their ``scores`` falls outside
    ``--algo.dynamic_filtering_range``. Wrapping that one method on the instance, the n-th call of a
    group scores the whole group with the bandit (one decision) before the filter reads it."""
    process = generator._process_response_into_experience
    group: list = []

    def process_and_score(response: Any, **generate_kwargs: Any) -> Any:
        experience = process(response, **generate_kwargs)
        n = int(generate_kwargs.get("n_samples_per_prompt", maker.args.rollout.n_samples_per_prompt))
        if group and group[0].prompts != experience.prompts:
            raise RuntimeError("dynamic filtering with --reward_selector: responses of two prompts interleaved "
                               f"({len(group)} of {n} collected); upstream's generator changed")
        group.append(experience)
        if len(group) == n:
            maker.score_group_for_filter(list(group))
            group.clear()
        return experience

    generator._process_response_into_experience = process_and_score
