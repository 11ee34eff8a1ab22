"""BanditRewardPool: a contextual bandit choosing which reward arm scores each batch (or group).

LASeR (arXiv 2410.01735) picks one RM per batch with LinUCB over pooled context features and
rewards the arm with the (normalised) negative training loss of that batch; BayesianRouter
(arXiv 2510.02850) does the same per query with Thompson sampling. This class wires the core
selector + signal normaliser to a RewardPool:

    contexts -> selector.select (quarantined arms excluded) -> pool.score (only chosen arms run)
             -> rewards + a decision id per sample ... later: update(decision ids, feedback)

``explore_by`` (``core.exploration.EXPLORE_BY``) says whose scores train: the selector's pick
(LASeR), or the arm with the best estimate while a differing pick scores the same rows for feedback
only (``ScoreResult.info["explored"]``: one more decision id per such unit); where no arm is
estimated better than chance the decision abstains (``info["abstained"]``: its pick scored, for
feedback only; the caller trains nothing on it).

A plain Python class (usable without Ray); ``laser_plugin.pool.actor`` wraps it as a Ray actor.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from laser_plugin.core.exploration import above_chance, training_arms
from laser_plugin.core.granularity import decision_units, mean_context
from laser_plugin.pool.arms import PoolExhaustedError
from laser_plugin.pool.config import BanditPoolConfig
from laser_plugin.pool.context import make_context_encoder
from laser_plugin.pool.pool import RewardPool
from laser_plugin.pool.state import check_meta, encode_str, flatten, strip, unflatten
from laser_plugin.pool.types import ScoreResult, ScoringBatch



def _mean_context(rows: np.ndarray) -> np.ndarray:
    """One context for several rows: the core's mean context, with its bias handling where the last
    column is all 1 (as both encoders and the core's ContextFeaturizer produce)."""
    return rows if len(rows) == 1 else mean_context(rows, bias=bool(np.all(rows[:, -1] == 1.0)))


class UnknownDecisionError(KeyError):
    """Feedback for a decision id this pool never issued, already updated, or dropped."""


class BanditRewardPool:
    def __init__(
        self,
        pool: Union[RewardPool, str, Path, Sequence[Any]],
        selector: str = "laser",
        selector_config: Optional[dict[str, Any]] = None,
        signal_norm: str = "quantile",
        context_dim: int = 64,
        granularity: str = "batch",
        context_encoder: str = "hashing",
        seed: int = 0,
        pool_kwargs: Optional[dict[str, Any]] = None,
        max_pending: int = 100_000,
        load: bool = True,
        explore_by: str = "training",
    ) -> None:
        from laser_plugin import make_selector
        from laser_plugin.core.signal_norm import make_signal_norm

        self.config = BanditPoolConfig(selector=selector, signal_norm=signal_norm, context_dim=context_dim,
                                       granularity=granularity, context_encoder=context_encoder, seed=seed,
                                       max_pending=max_pending, explore_by=explore_by)
        self.pool = pool if isinstance(pool, RewardPool) else RewardPool(pool, **(pool_kwargs or {}))
        if load:
            self.pool.load_all()  # fail at start, naming the arm, not on the first batch
        c = self.config
        self.context_dim, self.granularity, self.max_pending = int(c.context_dim), c.granularity, int(c.max_pending)
        self.explore_by = c.explore_by
        # A router prior file records its arms, context encoder and seed, and the core reads only its
        # means: whoever builds this pool with one checks the rest (router.prior.check_pool_prior).
        self.selector = make_selector(selector, num_arms=self.pool.num_arms, dim=self.context_dim, seed=seed,
                                      **(selector_config or {}))
        self.signal_norm = make_signal_norm(signal_norm)
        self.encoder = make_context_encoder(context_encoder, self.context_dim, seed=seed)
        k = self.pool.num_arms
        self._pending: "OrderedDict[int, tuple[int, np.ndarray]]" = OrderedDict()
        self._next_id = 0
        # select counts per arm (+ one slot for ensemble decisions), bandit reward sums/counts
        self._counts = {"select": np.zeros(k + 1), "reward_sum": np.zeros(k), "reward_n": np.zeros(k),
                        "fallbacks": np.zeros(1), "dropped": np.zeros(1), "audits": np.zeros(1),
                        "explored": np.zeros(1), "abstained": np.zeros(1)}

    @property
    def arm_names(self) -> list[str]:
        return self.pool.arm_names

    # ---------------------------------------------------------------- scoring
    def _contexts(self, batch: ScoringBatch, contexts: Optional[np.ndarray]) -> np.ndarray:
        n = len(batch)
        if contexts is None:
            return self.encoder(batch.prompts)
        ctx = np.asarray(contexts, dtype=np.float64)
        ctx = ctx.reshape(1, -1) if ctx.ndim == 1 else ctx
        if ctx.ndim != 2 or ctx.shape[1] != self.context_dim or ctx.shape[0] not in (1, n):
            raise ValueError(f"contexts must be [{n}, {self.context_dim}] or [1, {self.context_dim}], got {ctx.shape}")
        return np.repeat(ctx, n, axis=0) if ctx.shape[0] == 1 and n > 1 else ctx

    def _units(self, batch: ScoringBatch) -> tuple[list[np.ndarray], np.ndarray]:
        """Decision units: the whole batch or one per prompt group (never split; in order of first
        appearance; a row without a group id is its own group)."""
        unit_of_row = decision_units(len(batch), self.granularity, batch.group_ids)
        return [np.flatnonzero(unit_of_row == u) for u in range(int(unit_of_row.max()) + 1)], unit_of_row

    def _next_best(self, unit_ctx: np.ndarray, units_of_rows: np.ndarray, excluded: set) -> np.ndarray:
        """Fallback arm per row: the best-scored usable arm of each row's decision unit, decided
        once per unit so a unit (group) stays on one arm even with a sampling selector."""
        if len(excluded) >= self.pool.num_arms:
            raise PoolExhaustedError("every reward arm is quarantined or failed on this batch")
        units, inverse = np.unique(units_of_rows, return_inverse=True)
        scores = np.asarray(self.selector.scores(unit_ctx[units]), dtype=np.float64).copy()
        scores[:, sorted(excluded)] = -np.inf
        return scores.argmax(axis=1).astype(np.int64)[inverse]

    def score(self, batch: ScoringBatch, contexts: Optional[np.ndarray] = None) -> ScoreResult:
        n = len(batch)
        if n == 0:
            raise ValueError("cannot score an empty batch")
        ctx = self._contexts(batch, contexts)
        units, unit_of_row = self._units(batch)
        unit_ctx = np.concatenate([_mean_context(ctx[rows]) for rows in units])
        excluded = self.pool.quarantined()
        if len(excluded) >= self.pool.num_arms:
            raise PoolExhaustedError(f"every reward arm is quarantined: {self.pool.events[-3:]}")
        info: dict[str, Any] = {"arm_names": self.arm_names, "quarantined": sorted(excluded)}
        if self.selector.uses_all_arms:
            norm_all, raw_all, used = self.pool.score_all(batch, return_mask=True)
            # failed/quarantined arms are NaN rows, which the core's ensembles ignore
            rewards = np.asarray(self.selector.combine(norm_all, group_ids=batch.group_ids), dtype=np.float32)
            raw, row_arms = raw_all, np.full(n, -1, dtype=np.int64)
            unit_arms = np.full(len(units), -1, dtype=np.int64)
            info["arms_used"] = [self.arm_names[i] for i in np.flatnonzero(used)]
        else:
            picked = np.asarray(self.selector.select(unit_ctx, exclude=sorted(excluded) or None), dtype=np.int64)
            estimates = None if self.explore_by == "training" else self.selector.expected_scores(unit_ctx)
            chosen = training_arms(estimates, picked, excluded)
            # none: only audits teach the bandit, so the arm must clear chance by its confidence bound
            bounds = self.selector.lower_bounds(unit_ctx) if self.explore_by == "none" else estimates
            abstains = ~above_chance(bounds, chosen)
            chosen = np.where(abstains, picked, chosen)  # nothing to train: the pick scores, for feedback
            wanted = chosen[unit_of_row]
            rewards, raw, row_arms = self.pool.score(
                batch, wanted, return_arms=True,
                fallback=lambda rows, excl: self._next_best(unit_ctx, unit_of_row[rows], excl),
            )
            unit_arms = np.array([row_arms[rows[0]] for rows in units], dtype=np.int64)
            info["fallbacks"] = int((unit_arms != chosen).sum())
            self._counts["fallbacks"][0] += info["fallbacks"]
        ids = self._remember(unit_arms, unit_ctx)
        np.add.at(self._counts["select"], unit_arms, 1)  # -1 lands in the ensemble slot
        if not self.selector.uses_all_arms and self.explore_by != "training":
            info["abstained"] = ids[abstains].tolist()
            self._counts["abstained"][0] += int(abstains.sum())
            if self.explore_by == "scoring":
                info["explored"] = self._explore_by_scoring(batch, units, unit_ctx, picked, unit_arms)
        return ScoreResult(rewards=rewards, arms=row_arms, decision_ids=ids[unit_of_row], raw_scores=raw, info=info)

    def _explore_by_scoring(self, batch: ScoringBatch, units: list[np.ndarray], unit_ctx: np.ndarray,
                            picked: np.ndarray, trained: np.ndarray) -> list[dict[str, Any]]:
        """``explore_by`` scoring: where the pick differs from the arm that scored for training, the
        pick scores the unit's rows too, under a decision id of its own (feedback only, never
        training). An arm that fails here is simply not explored (failure recorded as usual)."""
        out = []
        for u, rows in enumerate(units):
            arm = int(picked[u])
            if arm == int(trained[u]):
                continue
            raw = self.pool.try_score_raw(batch.select(rows), arm)
            if raw is None:
                continue
            decision = int(self._remember(np.array([arm]), unit_ctx[u:u + 1])[0])
            out.append({"decision": decision, "arm": arm, "rows": rows, "raw_scores": np.asarray(raw, dtype=np.float64)})
        self._counts["explored"][0] += len(out)
        return out

    def _remember(self, arms: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + len(arms), dtype=np.int64)
        self._next_id += len(arms)
        for i, arm, c in zip(ids, arms, ctx):
            self._pending[int(i)] = (int(arm), c.astype(np.float64))
        while len(self._pending) > self.max_pending:  # feedback that never comes must not leak memory
            self._pending.popitem(last=False)
            self._counts["dropped"][0] += 1
        return ids

    # ---------------------------------------------------------------- feedback
    def update(self, decision_ids: Any, values: Any, *, calibrated: bool = False) -> dict[str, np.ndarray]:
        """Raw feedback (e.g. -loss), one value per decision or per sample (averaged per decision).

        ``calibrated``: the values are already rates in [0, 1] with 1/2 meaning chance (e.g. the
        share of pairs an arm orders as a verifier does). They bypass the signal normaliser (which
        turns the first few rates into 0 and 1, so one lucky early value locks the bandit onto an
        arm) and the selector learns ``rate - 1/2``: its prior (theta = 0) then means "as good as
        chance", so an arm never tried (prior plus the exploration bonus) outranks a tried arm that
        is merely better than chance; fed as [0, 1], the prior reads "always wrong" and the first arm
        tried kept every decision (quickstart, verifier signal: similarity 90%, the verifier arm
        never tried). Rewards in the metrics stay the rates."""
        ids = np.asarray(decision_ids, dtype=np.int64).reshape(-1)
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        if ids.shape != vals.shape or ids.size == 0:
            raise ValueError(f"need one feedback value per decision id, got {ids.shape} ids and {vals.shape} values")
        if not np.all(np.isfinite(vals)):
            raise ValueError("feedback values must be finite")
        if calibrated and (vals.min() < 0.0 or vals.max() > 1.0):
            raise ValueError(f"calibrated feedback must lie in [0, 1], got [{vals.min()}, {vals.max()}]")
        uniq, inverse = np.unique(ids, return_inverse=True)
        means = np.bincount(inverse, weights=vals) / np.bincount(inverse)
        unknown = [int(u) for u in uniq if int(u) not in self._pending]
        if unknown:
            raise UnknownDecisionError(
                f"unknown decision ids {unknown[:10]}: never issued by this pool, already updated, or dropped "
                f"(pending: {len(self._pending)}, issued: {self._next_id})"
            )
        entries = [self._pending.pop(int(u)) for u in uniq]
        arms = np.array([a for a, _ in entries], dtype=np.int64)
        rewards = np.full(len(uniq), np.nan)
        learn = arms >= 0  # ensemble decisions (-1) have no arm to credit
        if learn.any():
            ctx = np.stack([c for (_, c), keep in zip(entries, learn) if keep])
            normed = (means[learn] if calibrated
                      else np.asarray(self.signal_norm(means[learn], arms=arms[learn]), dtype=np.float64))
            self._learn(arms[learn], ctx, normed, calibrated)
            rewards[learn] = normed
        return {"decision_ids": uniq, "arms": arms, "rewards": rewards}

    def _learn(self, arms: np.ndarray, contexts: np.ndarray, rewards: np.ndarray, calibrated: bool) -> None:
        """Teach the selector and count each arm's reward (the metrics keep the reward as given). A
        calibrated rate (1/2: chance) is learned centred, ``rate - 1/2`` (see ``update``)."""
        self.selector.update(arms, contexts, rewards - 0.5 if calibrated else rewards)
        np.add.at(self._counts["reward_sum"], arms, rewards)
        np.add.at(self._counts["reward_n"], arms, 1)

    def audit(self, batch: ScoringBatch, decision_id: int, chosen_raw: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
        """Cross-arm audit of one pending decision whose rows are ``batch``: every usable arm scores
        them (``chosen_raw``: the chosen arm's raw scores, not asked again), each arm is paid its
        agreement with the leave-one-out consensus of the others (``signals.consensus_agreement``),
        and the decision is closed. One audit teaches the bandit about every arm on this context."""
        from laser_plugin.signals import consensus_agreement

        if int(decision_id) not in self._pending:
            raise UnknownDecisionError(f"unknown decision id {int(decision_id)}: never issued, already updated, or dropped")
        chosen, ctx = self._pending.pop(int(decision_id))
        raw = np.full((self.pool.num_arms, len(batch)), np.nan)
        for arm in range(self.pool.num_arms):
            given = chosen_raw if arm == chosen and chosen_raw is not None else None
            scores = np.asarray(given, dtype=np.float64) if given is not None else self.pool.try_score_raw(batch, arm)
            if scores is not None:
                raw[arm] = scores
        agreement = consensus_agreement(raw, batch.group_ids)
        arms = np.flatnonzero(np.isfinite(agreement))
        rewards = np.full(self.pool.num_arms, np.nan)
        if len(arms):
            # Agreement is already a calibrated [0, 1] reward (1/2: chance); the signal normaliser
            # is NOT applied: q20/q80 rescaling would blow the sampling noise of a few audits up to
            # full-scale rewards (seen: a noise arm at 0.69 on one audit -> 1.0 -> every next pick).
            # A calibrated rate like the verifier's: learned centred at chance, so that audits and
            # verifier feedback (signal ``auto``) speak on one scale.
            self._learn(arms, np.repeat(ctx[None, :], len(arms), axis=0), agreement[arms], calibrated=True)
            rewards[arms] = agreement[arms]
        self._counts["audits"][0] += 1
        return {"arms": arms, "agreement": agreement, "rewards": rewards}

    def audit_share_of(self, result: ScoreResult, batch: ScoringBatch, share: Optional[float], seed: int,
                       decisions: Optional[Sequence[int]] = None) -> list[dict]:
        """The audit signal for one scoring call: each decision of ``result`` (over ``batch``; only
        those in ``decisions`` when given) is audited with probability ``share`` (None:
        ``default_audit_share(K)``; ``signals.is_audited``: one decision per block of about 1/share
        consecutive ids, seeded, the same after a resume),
        the others are closed without feedback. Returns the audits' results (``audit``)."""
        from laser_plugin.signals import default_audit_share, is_audited

        share = default_audit_share(self.pool.num_arms) if share is None else share
        raw = result.raw_scores if result.raw_scores is not None and np.ndim(result.raw_scores) == 1 else None
        out = []
        for d in (np.unique(result.decision_ids).tolist() if decisions is None else sorted(set(decisions))):
            rows = np.flatnonzero(result.decision_ids == d)
            if result.arms[rows[0]] < 0 or not is_audited(seed, d, share):
                self.forget([d])
                continue
            out.append(self.audit(batch.select(rows), d, None if raw is None else raw[rows]))
        return out

    def forget(self, decision_ids: Any) -> None:
        """Close decisions that get no feedback (not audited under the audit signal)."""
        for d in np.asarray(decision_ids, dtype=np.int64).reshape(-1).tolist():
            self._pending.pop(int(d), None)

    # ---------------------------------------------------------------- metrics / state
    def metrics(self) -> dict[str, float]:
        sel = self._counts["select"]
        total = max(sel.sum(), 1.0)
        out = {f"laser/select/{name}": float(sel[i] / total) for i, name in enumerate(self.arm_names)}
        if self.selector.uses_all_arms:
            out["laser/select/ensemble"] = float(sel[-1] / total)
        for i, name in enumerate(self.arm_names):
            n = self._counts["reward_n"][i]
            out[f"laser/bandit_reward/{name}"] = float(self._counts["reward_sum"][i] / n) if n else 0.0
        out.update({"laser/decisions": float(sel.sum()), "laser/pending": float(len(self._pending)),
                    "laser/fallbacks": float(self._counts["fallbacks"][0]),
                    "laser/dropped_pending": float(self._counts["dropped"][0]),
                    "laser/audits": float(self._counts["audits"][0]),
                    "laser/explore_scorings": float(self._counts["explored"][0]),
                    "laser/abstained": float(self._counts["abstained"][0])})
        out.update(self.pool.metrics())
        return out

    def _meta(self) -> dict[str, Any]:
        return {"selector": self.selector.name, "num_arms": self.pool.num_arms, "context_dim": self.context_dim,
                "arm_names": "\n".join(self.arm_names)}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat {name: np.ndarray} (strings as uint8 arrays) for ``core.state_io.save_state``."""
        ids = np.array(list(self._pending), dtype=np.int64)
        state = {f"meta/{k}": encode_str(v) if isinstance(v, str) else np.asarray(v) for k, v in self._meta().items()}
        state.update(flatten("selector", self.selector.state_dict()))
        state.update(flatten("signal_norm", self.signal_norm.state_dict()))
        state.update({f"pool/{k}": v for k, v in self.pool.state_dict().items()})
        state.update({f"counts/{k}": v.copy() for k, v in self._counts.items()})
        state["pending/ids"] = ids
        state["pending/arms"] = np.array([self._pending[int(i)][0] for i in ids], dtype=np.int64)
        state["pending/contexts"] = (np.stack([self._pending[int(i)][1] for i in ids]) if len(ids)
                                     else np.zeros((0, self.context_dim)))
        state["next_id"] = np.array([self._next_id], dtype=np.int64)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_meta(state, self._meta())
        self.selector.load_state_dict(unflatten(state, "selector"))
        # states saved before the normaliser was named signal_norm keep it under "feedback/"
        norm_key = "signal_norm" if any(k.startswith("signal_norm/") for k in state) else "feedback"
        self.signal_norm.load_state_dict(unflatten(state, norm_key))
        self.pool.load_state_dict(strip(state, "pool"))
        for key in self._counts:
            if f"counts/{key}" in state or key not in ("audits", "explored", "abstained"):  # older states: 0 of these
                self._counts[key] = np.asarray(state[f"counts/{key}"], dtype=np.float64).copy()
            else:
                self._counts[key] = np.zeros(1)
        ids, arms, ctx = state["pending/ids"], state["pending/arms"], state["pending/contexts"]
        self._pending = OrderedDict((int(i), (int(a), np.asarray(c, dtype=np.float64)))
                                    for i, a, c in zip(ids, arms, ctx))
        self._next_id = int(np.asarray(state["next_id"]).reshape(-1)[0])

    def save(self, path: Union[str, Path]) -> None:
        from laser_plugin.core.state_io import save_state

        save_state(str(path), self.state_dict())

    def load(self, path: Union[str, Path]) -> None:
        from laser_plugin.core.state_io import load_state

        self.load_state_dict(load_state(str(path), what="bandit pool state"))

    def close(self) -> None:
        self.pool.close()


__all__ = ["BanditRewardPool", "UnknownDecisionError"]
