"""Iterative DPO with a bandit-selected reward model (LASeR, arXiv 2410.01735): the framework-free parts.

``preference``: preference pairs per prompt from scored samples (best-vs-worst, top-k vs bottom-k,
all pairs above a margin; identical responses deduplicated). ``credit``: attributing DPO losses
to the bandit decisions whose pairs produced them. The OpenRLHF-driven loop is in
``laser_plugin.adapters.openrlhf.dpo.loop``.
"""
from laser_plugin.dpo.preference import PAIR_STRATEGIES, PairConfig, PreferencePair, build_pairs

__all__ = ["PAIR_STRATEGIES", "PairConfig", "PreferencePair", "build_pairs"]
