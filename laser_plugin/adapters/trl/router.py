"""``LaserRewardRouter``: one TRL reward function that runs ONE bandit-chosen arm of a reward pool.

TRL's ``GRPOTrainer(reward_funcs=[rm_1, ..., rm_K])`` runs every reward function on every completion
and sums them with ``reward_weights``: K RMs cost K forwards per completion. Passed as the only entry
of ``reward_funcs``, the router asks a ``BanditRewardPool`` (the same pool, selectors, per-arm
normalisation, residency and quarantine as the OpenRLHF adapter) for one arm per call
(``granularity="batch"``) or per prompt group (``"group"``: TRL's ``num_generations`` completions of
one prompt, never split across arms), has only that arm score, and returns its rewards. The feedback
comes right after scoring for the signals of ``laser_plugin.signals`` (``audit``, the default, or
``verifier`` with a verifier arm; ``group_variance``), or later from ``LaserRewardCallback`` (the
step's ``loss``, LASeR's signal).

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., trainer_state=...,
log_metric=..., log_extra=..., **dataset_columns)``; prompts and completions are strings, or lists of
chat messages for conversational datasets. Works for every TRL trainer with that calling convention:
``GRPOTrainer``, ``RLOOTrainer`` and their subclasses (e.g. ``trl.experimental`` GMPO).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from laser_plugin.adapters.trl.config import RouterConfig
from laser_plugin.pool.bandit_pool import BanditRewardPool
from laser_plugin.pool.pool import RewardPool
from laser_plugin.pool.types import ScoringBatch
from laser_plugin.router.prior import check_pool_prior
from laser_plugin.signals import group_informativeness, loss_signal, verifier_agreement

DECISION_LOG_LIMIT = 100_000
LABEL_KEYS = ("label", "labels", "answer", "solution", "ground_truth")
PoolLike = Union[BanditRewardPool, RewardPool, str, Path, Sequence[Any]]


def _is_chat(x: Any) -> bool:
    return isinstance(x, list) and (not x or isinstance(x[0], dict))


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, list):  # content blocks: keep the text parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def scoring_batch(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    *,
    labels: Optional[Sequence[Any]] = None,
    group_ids: Optional[np.ndarray] = None,
    tokenizer: Any = None,
) -> ScoringBatch:
    """TRL's prompts/completions (strings or chat messages) -> the pool's ScoringBatch.

    Chat samples: the query is the policy tokenizer's chat template applied to prompt + completion when
    a tokenizer with a template is given (else the message contents joined), the prompt text is the
    joined prompt contents, and ``extra["raw_prompts"]`` holds the last user message, which an ``hf:``
    arm with its own chat template formats itself."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    queries, prompt_texts, responses, raw = [], [], [], []
    for p, c in zip(prompts, completions):
        if _is_chat(p) or _is_chat(c):
            p_msgs = p if _is_chat(p) else [{"role": "user", "content": str(p)}]
            c_msgs = c if _is_chat(c) else [{"role": "assistant", "content": str(c)}]
            ptext = "\n".join(_content(m) for m in p_msgs)
            rtext = "".join(_content(m) for m in c_msgs)
            users = [m for m in p_msgs if m.get("role") == "user"]
            raw.append(_content(users[-1]) if users else ptext)
            if tokenizer is not None and getattr(tokenizer, "chat_template", None):
                query = tokenizer.apply_chat_template(list(p_msgs) + list(c_msgs), tokenize=False)
            else:
                query = ptext + "\n" + rtext
        else:
            ptext, rtext = str(p), str(c)
            raw.append(ptext)
            query = ptext + rtext
        queries.append(query)
        prompt_texts.append(ptext)
        responses.append(rtext)
    return ScoringBatch(queries=queries, prompts=prompt_texts, responses=responses,
                        labels=None if labels is None else list(labels), group_ids=group_ids,
                        extra={"raw_prompts": raw})


def prompt_groups(prompts: Sequence[Any], num_generations: Optional[int]) -> np.ndarray:
    """Group id per completion: completions of the same prompt share a group, so they never get
    different arms. GRPO/RLOO's RepeatSampler puts the ``num_generations`` completions of a prompt next to
    each other (completion i in group i // G); when the batch does not have that layout (evaluation with
    ``num_generations_eval``, trl.experimental's OnlineDPOTrainer scoring ``prompts * 2``, G unknown),
    equal prompts form a group wherever they are."""
    n = len(prompts)
    if num_generations and n % num_generations == 0:
        blocks = [prompts[i:i + num_generations] for i in range(0, n, num_generations)]
        if all(all(r == b[0] for r in b) for b in blocks):
            return np.arange(n, dtype=np.int64) // num_generations
    seen: dict[str, int] = {}
    keys = [p if isinstance(p, str) else json.dumps(p, sort_keys=True, default=str) for p in prompts]
    return np.array([seen.setdefault(k, len(seen)) for k in keys], dtype=np.int64)


class LaserRewardRouter:
    """A TRL reward function (``reward_funcs=[router]``) that scores with one bandit-chosen arm.

    ``pool``: a ``BanditRewardPool`` (used as is: its selector, feedback and context options apply, not
    the ones given here; its granularity must be this one), a ``RewardPool``, or arm specs (the
    ``--reward_pool`` string ``"hf:/rm_a,func:verify.py,http://host:5000/get_reward"``, a .yaml/.json
    file, or a list of ``ArmSpec``); ``pool_kwargs`` go to ``RewardPool`` (residency, device,
    quarantine_s, micro_batch_size, offload, ...). ``policy_tokenizer`` (the trainer's processing
    class, or a path) lets ``hf:`` arms with another tokenizer apply their own chat template.
    The remaining options are ``RouterConfig``'s.
    """

    def __init__(
        self,
        pool: PoolLike,
        *,
        selector: str = "laser",
        granularity: str = "group",
        signal: Optional[str] = None,
        verifier: Optional[str] = None,
        audit_share: Optional[float] = None,
        signal_norm: str = "quantile",
        context_dim: int = 64,
        context_encoder: str = "hashing",
        seed: int = 0,
        selector_options: Optional[dict[str, Any]] = None,
        rewards: str = "normalized",
        label_key: Optional[str] = None,
        num_generations: Optional[int] = None,
        name: str = "laser_router",
        policy_tokenizer: Any = None,
        pool_kwargs: Optional[dict[str, Any]] = None,
    ) -> None:
        self.config = RouterConfig(selector=selector, granularity=granularity, signal=signal, verifier=verifier,
                                   audit_share=audit_share, signal_norm=signal_norm, context_dim=context_dim,
                                   context_encoder=context_encoder,
                                   seed=seed, selector_options=dict(selector_options or {}), rewards=rewards,
                                   label_key=label_key, num_generations=num_generations, name=name)
        if isinstance(policy_tokenizer, (str, Path)):
            from transformers import AutoTokenizer  # lazy: only when given a path

            policy_tokenizer = AutoTokenizer.from_pretrained(str(policy_tokenizer))
        self.policy_tokenizer = policy_tokenizer
        if isinstance(pool, BanditRewardPool):
            if pool.granularity != granularity:
                raise ValueError(f"the BanditRewardPool decides per {pool.granularity!r}; granularity={granularity!r} "
                                 f"needs one built with granularity={granularity!r}")
            self.bandit = pool
        else:
            if not isinstance(pool, RewardPool):
                pool = RewardPool(pool, policy_tokenizer=policy_tokenizer, **(pool_kwargs or {}))
            elif pool_kwargs:
                raise ValueError("pool_kwargs apply only when the router builds the RewardPool from specs")
            check_pool_prior(selector_options, pool.arm_names, context_dim, context_encoder, seed)
            self.bandit = BanditRewardPool(pool, selector=selector, selector_config=dict(selector_options or {}),
                                           signal_norm=signal_norm, context_dim=context_dim, granularity=granularity,
                                           context_encoder=context_encoder, seed=seed)
        if self.bandit.selector.uses_all_arms:
            raise ValueError(f"selector {self.bandit.selector.name!r} is an ensemble that runs every arm; "
                             "for that, list the reward models in reward_funcs directly")
        self._verifier_arm: Optional[int] = None
        if self.config.signal == "verifier":
            if verifier not in self.arm_names:
                raise ValueError(f"verifier {verifier!r} is not an arm of the pool {self.arm_names}")
            self._verifier_arm = self.arm_names.index(verifier)
        self.__name__ = name  # TRL names the reward function (and its rewards/<name>/* metrics) by this
        self.num_generations = num_generations
        self.steps_per_call = 1  # optimizer steps trained on one call's rewards (set from the trainer's args)
        # Decisions awaiting the loss signal: (decision ids, the global step whose log closes them).
        self._pending: list[tuple[np.ndarray, int]] = []
        self._calls = 0
        # The latest decisions (at most DECISION_LOG_LIMIT), for the callback's laser_decisions.jsonl;
        # decision_log_dropped counts the older ones trimmed from its front.
        self.decision_log: list[dict[str, Any]] = []
        self.decision_log_dropped = 0
        self.last_signal: float = math.nan

    # ---------------------------------------------------------------- set-up from the trainer
    @property
    def arm_names(self) -> list[str]:
        return self.bandit.arm_names

    def configure(self, args: Any) -> None:
        """Read the group size and the generation cadence from TRL's GRPOConfig/RLOOConfig."""
        if self.num_generations is None and getattr(args, "num_generations", None):
            self.num_generations = int(args.num_generations)
        per_gen = int(getattr(args, "steps_per_generation", None) or getattr(args, "gradient_accumulation_steps", 1))
        iters = int(getattr(args, "num_iterations", 1) or 1)
        accum = int(getattr(args, "gradient_accumulation_steps", 1) or 1)
        self.steps_per_call = max(1, math.ceil(per_gen * iters / accum))

    # ---------------------------------------------------------------- the reward function
    def _labels(self, n: int, columns: dict[str, Any]) -> Optional[list[Any]]:
        keys = (self.config.label_key,) if self.config.label_key else LABEL_KEYS
        for key in keys:
            if key in columns and columns[key] is not None and len(columns[key]) == n:
                return list(columns[key])
        if self.config.label_key:
            raise KeyError(f"label_key {self.config.label_key!r} is not a dataset column ({sorted(columns)})")
        return None

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Optional[Sequence[Any]] = None,
        *,
        trainer_state: Any = None,
        log_metric: Optional[Callable[[str, float], None]] = None,
        log_extra: Optional[Callable[[str, list], None]] = None,
        **columns: Any,
    ) -> list[float]:
        columns.pop("environments", None)
        n = len(prompts)
        group_ids = prompt_groups(prompts, self.num_generations)
        batch = scoring_batch(prompts, completions, labels=self._labels(n, columns), group_ids=group_ids,
                              tokenizer=self.policy_tokenizer)
        # The bandit's context encoder reads the prompt text; encode each distinct prompt once (a group's
        # G completions share it), the same contexts the bandit would compute row by row.
        texts, inverse = np.unique(np.asarray(batch.prompts, dtype=object), return_inverse=True)
        contexts = np.asarray(self.bandit.encoder(list(texts)), dtype=np.float64)[inverse.reshape(-1)]
        result = self.bandit.score(batch, contexts=contexts)
        step = int(trainer_state.global_step) if trainer_state is not None else self._calls
        ids, first = np.unique(result.decision_ids, return_index=True)
        ids = ids[np.argsort(first, kind="stable")]  # decisions in batch order
        names = []
        for d in ids:
            rows = result.decision_ids == d
            name = self.arm_names[int(result.arms[rows][0])]
            names.append(name)
            self.decision_log.append({"global_step": step, "call": self._calls, "decision": int(d), "arm": name,
                                      "rows": int(rows.sum())})
        self._calls += 1
        if len(self.decision_log) > DECISION_LOG_LIMIT:
            cut = len(self.decision_log) - DECISION_LOG_LIMIT // 2
            del self.decision_log[:cut]
            self.decision_log_dropped += cut
        if self.config.signal == "loss":  # delayed: the loss of the steps trained on these rewards
            self._pending.append((ids, step + self.steps_per_call))
        elif self.config.signal == "audit":
            audits = self.bandit.audit_share_of(result, batch, self.config.audit_share, self.config.seed)
            values = [v for out in audits for v in out["agreement"][out["arms"]].tolist()]
            self.last_signal = float(np.mean(values)) if values else self.last_signal
        else:
            values = [self._immediate_signal(batch, result, d) for d in ids]
            self.bandit.update(ids, values)
            self.last_signal = float(np.mean(values))
        if log_metric is not None:
            self._log(log_metric, names)
        if log_extra is not None:
            log_extra("laser_arm", [self.arm_names[int(a)] for a in result.arms])
        out = result.rewards if self.config.rewards == "normalized" else result.raw_scores
        return [float(x) for x in out]

    def _immediate_signal(self, batch: ScoringBatch, result: Any, decision: int) -> float:
        rows = np.flatnonzero(result.decision_ids == decision)
        groups = batch.group_ids[rows] if batch.group_ids is not None else None
        if self.config.signal == "group_variance":
            return group_informativeness(result.raw_scores[rows], groups)
        truth = self.bandit.pool.score_raw(batch.select(rows), self._verifier_arm)
        return verifier_agreement(result.raw_scores[rows], truth, groups)

    def _log(self, log_metric: Callable[[str, float], None], names: list[str]) -> None:
        """Through TRL's ``log_metric``: TRL averages each value over the logging window, so
        ``laser/choice/<arm>`` is the arm's share of the window's decisions and the cumulative
        ``laser/select/*``, ``laser/bandit_reward/*``, ``pool/*`` values are the window's mean."""
        for arm in self.arm_names:
            log_metric(f"laser/choice/{arm}", names.count(arm) / len(names))
        log_metric("laser/decisions_per_call", float(len(names)))
        if not math.isnan(self.last_signal):
            log_metric("laser/signal", self.last_signal)
        for key, value in self.bandit.metrics().items():
            log_metric(key, value)

    # ---------------------------------------------------------------- feedback
    @property
    def pending_decisions(self) -> int:
        return int(sum(len(ids) for ids, _ in self._pending))

    def feed_loss(self, loss: float, global_step: int) -> int:
        """LASeR's signal: -loss to every decision whose rewards were fully trained on by ``global_step``
        (with ``steps_per_generation`` > 1 a call's rewards serve several optimizer steps). Returns the
        number of decisions updated."""
        if self.config.signal != "loss":
            return 0
        due = [ids for ids, until in self._pending if until <= global_step]
        if not due:
            return 0
        self._pending = [(ids, until) for ids, until in self._pending if until > global_step]
        value = loss_signal(float(loss))
        ids = np.concatenate(due)
        self.bandit.update(ids, np.full(len(ids), value))
        self.last_signal = value
        return int(len(ids))

    def discard_since(self, calls: int) -> None:
        """Forget the loss feedback of the decisions made by calls numbered >= ``calls`` (evaluation
        calls: no training step follows them)."""
        first = [rec["call"] for rec in self.decision_log]
        dropped = {rec["decision"] for rec, c in zip(self.decision_log, first) if c >= calls}
        if dropped:
            self._pending = [(ids[~np.isin(ids, list(dropped))], until) for ids, until in self._pending]
            self._pending = [(ids, until) for ids, until in self._pending if len(ids)]

    @property
    def calls(self) -> int:
        return self._calls

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """The bandit pool's state plus the router's pending loss feedback (flat, for safetensors)."""
        state = self.bandit.state_dict()
        ids = np.concatenate([i for i, _ in self._pending]) if self._pending else np.zeros(0, dtype=np.int64)
        due = (np.concatenate([np.full(len(i), u, dtype=np.int64) for i, u in self._pending]) if self._pending
               else np.zeros(0, dtype=np.int64))
        state["router/pending_ids"] = ids.astype(np.int64)
        state["router/pending_due"] = due
        state["router/calls"] = np.array([self._calls], dtype=np.int64)
        state["router/last_signal"] = np.array([self.last_signal], dtype=np.float64)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bandit.load_state_dict({k: v for k, v in state.items() if not k.startswith("router/")})
        ids = np.asarray(state["router/pending_ids"], dtype=np.int64)
        due = np.asarray(state["router/pending_due"], dtype=np.int64)
        self._pending = [(ids[due == u], int(u)) for u in np.unique(due)]
        self._calls = int(np.asarray(state["router/calls"]).reshape(-1)[0])
        self.last_signal = float(np.asarray(state["router/last_signal"]).reshape(-1)[0])

    def save(self, path: Union[str, Path], global_step: int = -1) -> None:
        from laser_plugin.core.state_io import save_state

        state = self.state_dict()
        state["router/global_step"] = np.array([global_step], dtype=np.int64)
        save_state(str(path), state)

    def load(self, path: Union[str, Path], expect_step: Optional[int] = None) -> None:
        """Restore a saved state; ``expect_step``: the trainer step being resumed (a state written at
        another step is refused, so a stray file cannot desynchronise the bandit from the policy)."""
        from laser_plugin.core.state_io import load_state

        state = load_state(str(path), what="router state")
        saved = int(np.asarray(state.get("router/global_step", [-1])).reshape(-1)[0])
        if expect_step is not None and saved != expect_step:
            raise ValueError(f"router state {path} was saved at global_step {saved}, resuming at {expect_step}")
        self.load_state_dict(state)

    def callback(self, **kwargs: Any) -> Any:
        """The ``TrainerCallback`` that feeds this router back, logs and checkpoints it."""
        from laser_plugin.adapters.trl.callback import LaserRewardCallback

        return LaserRewardCallback(self, **kwargs)

    def close(self) -> None:
        self.bandit.close()
