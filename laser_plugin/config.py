"""The plugin's run configuration: which selector, which pool, how the bandit signal is formed and normalised.

One dataclass shared by every entry point (OpenRLHF launcher and patch, iterative DPO, best-of-N).
It travels to Ray workers as JSON in the ``LASER_PLUGIN_CONFIG`` environment variable.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

from laser_plugin.cli_fields import option
from laser_plugin.core.base import check_context_dim
from laser_plugin.core.exploration import EXPLORE_BY, check_explore_by
from laser_plugin.core.granularity import GRANULARITIES, check_granularity

ENV_VAR = "LASER_PLUGIN_CONFIG"
# What OpenRLHF's --reward.model_name_or_path holds when the pool replaces its single RM.
POOL_SENTINEL = "laser_plugin:reward_pool"

# What the bandit learns from in PPO/GRPO (see laser_plugin/signals.py):
#   loss             LASeR's signal, per decision: the drop of its own rows' PPO-clip loss across the step
#   group_variance   GRPO: share of prompt groups whose rewards are not all equal (informative groups)
#   verifier         agreement of the arm's within-group ranking with a verifier arm (needs labels)
#   audit            on a seeded share of decisions every arm scores the rows; each arm is paid its
#                    agreement with the leave-one-out consensus of the others (laser_plugin.signals)
#   probe            the rise of the policy's preference for the chosen response of trusted pairs
#                    (--reward_selector.probe_dataset) across the step, credited to the step's decisions
SIGNALS = ("loss", "group_variance", "verifier", "audit", "probe")
# the signals that compare the responses of one prompt (they need --rollout.n_samples_per_prompt > 1)
GROUP_SIGNALS = ("group_variance", "verifier", "audit")


def default_signal(verifier: Optional[str]) -> str:
    """PPO/GRPO's bandit signal when none is given: ``verifier`` where a verifier arm is named, else
    ``audit``. Both judge each decision by its own group, right after scoring, for correctness or
    consensus; ``loss`` (per decision: its rows' loss drop) pays any arm the update fits, and
    ``probe`` one step-level rise. benchmarks/results/grpo_signals.md (fp32, 12 steps): share of a
    noise + a misleading arm in the last third (chance 0.40): audit 0.00 (bf16, an earlier run: 0.00),
    loss 0.31, probe 0.50, group_variance 0.56. Lines without prompt groups fall back to ``loss``
    (ppo.preflight)."""
    return "verifier" if verifier else "audit"


@dataclass
class LaserConfig:
    """The ``--reward_selector`` flag family (``adapters/openrlhf/flags.py`` generates it from these fields)."""

    selector: str = option("laser", "select one reward model per micro-batch with this bandit (e.g. laser, "
                           "thompson, bayesian_router) or combine all of them (score_mean, agreement, min, mean_minus_var)")
    pool: str = option("", "reward-model arms: 'hf:PATH,func:FILE.py,http://HOST:PORT/get_reward' or a .yaml/.json file")
    selector_options: dict[str, Any] = field(default_factory=dict)  # --reward_selector.<selector option>
    granularity: Optional[str] = option(None, "one decision per micro-batch or per prompt group: "
                                              f"{'|'.join(GRANULARITIES)} (default: batch)")
    signal_norm: str = option("quantile", "normaliser of the signal into bandit rewards: quantile (LASeR q20/q80), "
                                          "baseline, zscore, '+'-joined, none", old_names=("feedback",))
    signal: Optional[str] = option(None, f"what the bandit learns from: {'|'.join(SIGNALS)} (default: verifier when "
                                         "--reward_selector.verifier names an arm, else audit; loss where each prompt "
                                         "has one sample)")
    verifier: Optional[str] = option(None, "arm name whose scores are ground truth for --reward_selector.signal verifier")
    explore_by: Optional[str] = option(None, f"{'|'.join(EXPLORE_BY)}: how the bandit explores. training: its "
                                             "pick's scores train (LASeR); scoring: the arm with the best estimate's "
                                             "scores train, and a differing pick scores the same rows for feedback "
                                             "only (one more arm call); none: the best estimate's where its lower "
                                             "confidence bound is above chance, no extra scoring (audits explore). "
                                             "Default: scoring for iterative DPO's verifier and auto "
                                             "signals, none for audit, training otherwise")
    probe_dataset: Optional[str] = option(None, "trusted pairs for --reward_selector.signal probe: JSON/JSONL "
                                                "rows with the prompt column (--data.input_key), 'chosen' and 'rejected'")
    audit_share: Optional[float] = option(None, "share of decisions every arm scores under --reward_selector.signal "
                                                "audit, one in each run of ~1/share decisions (default 0.25/(K-1): "
                                                "scoring <= 1.25x one arm)")
    context_encoder: str = option("hashing", "context features: hashing (prompt text) or hf:PATH (a small encoder model)")
    context_dim: int = option(64, "context dimension d (incl. the bias feature)")
    seed: int = option(0, "seed of the selector's RNG and the context projection")
    residency: int = option(1, "how many RMs stay on the device at once (others are offloaded, LRU)")
    quarantine_s: float = option(300.0, "seconds an arm that returned NaN/inf or kept failing is excluded")
    state_dir: Optional[str] = option(None, "where bandit states are saved (default: under --ckpt.path)")

    def __post_init__(self) -> None:
        from laser_plugin.core.registry import available_selectors

        valid = available_selectors()
        if self.selector not in valid:
            raise ValueError(
                f"unknown --reward_selector {self.selector!r}; valid names: {', '.join(sorted(valid))}"
            )
        if not self.pool:
            raise ValueError(
                "--reward_selector needs --reward_pool: a comma-separated list of arms such as "
                "'hf:/path/to/rm,func:/path/verifier.py,http://127.0.0.1:5000/get_reward' or a .yaml/.json file"
            )
        # not fields (the resolved values are exported): what was asked for, so that the preflight can
        # choose group granularity for a line that needs it, and fall back to loss for a line
        # without prompt groups, only where the user left the choice to it
        self.granularity_given, self.signal_given = self.granularity is not None, self.signal is not None
        if self.granularity is None:
            self.granularity = "batch"
        check_granularity(self.granularity, "--reward_selector.granularity")
        if self.signal is None:
            self.signal = default_signal(self.verifier)
        if self.signal not in SIGNALS:
            raise ValueError(f"--reward_selector.signal must be one of {SIGNALS}, got {self.signal!r}")
        if self.signal == "verifier" and not self.verifier:
            raise ValueError("--reward_selector.signal verifier needs --reward_selector.verifier ARM_NAME")
        if self.signal == "probe" and not self.probe_dataset:
            raise ValueError("--reward_selector.signal probe needs --reward_selector.probe_dataset FILE.jsonl "
                             "(trusted prompt/chosen/rejected pairs)")
        if self.audit_share is not None and not 0.0 < self.audit_share <= 1.0:
            raise ValueError(f"--reward_selector.audit_share must be in (0, 1], got {self.audit_share}")
        if self.explore_by is not None:
            check_explore_by(self.explore_by, "--reward_selector.explore_by")
        check_context_dim(self.context_dim, "--reward_selector.context_dim")
        if self.residency < 1:
            raise ValueError(f"--reward_selector.residency must be >= 1, got {self.residency}")
        if self.quarantine_s < 0:
            raise ValueError(f"--reward_selector.quarantine_s must be >= 0, got {self.quarantine_s}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "LaserConfig":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{ENV_VAR} has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def export(self) -> None:
        """Make the config visible to this process's children and to Ray workers."""
        os.environ[ENV_VAR] = self.to_json()

    @classmethod
    def from_env(cls) -> Optional["LaserConfig"]:
        text = os.environ.get(ENV_VAR)
        return cls.from_json(text) if text else None
