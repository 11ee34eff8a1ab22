"""Selection core (numpy; torch only in ``features``): no ray, deepspeed, openrlhf or vllm.

registry     make_selector / available_selectors / register_selector (one registry)
linucb       ``laser`` (alias ``linucb``): disjoint LinUCB, LASeR
thompson     ``thompson`` (alias ``bayesian_router``): linear Thompson sampling with priors
linear       the shared per-arm ridge engine (Sherman-Morrison / Woodbury, refactorisation, discount)
baselines    random, fixed, round_robin (alias sequential), eps_greedy, ucb1, exp3
ensembles    score_mean, agreement, min, mean_minus_var (use every arm; ``combine``)
signal_norm  make_signal_norm("quantile" | "baseline" | "zscore" | "none", joined with '+')
granularity  one decision per scoring call (batch) or per prompt group (group), in one call
exploration  whose scores train when the bandit explores: the pick's (LASeR) or the best estimate's
features     pool_hidden_states, ContextFeaturizer (torch)
state_io     save_state / load_state (safetensors + JSON, no pickle)
"""
from laser_plugin.core.signal_norm import make_signal_norm
from laser_plugin.core.registry import available_selectors, make_selector, register_selector, selector_option_names

# The built-in selectors register themselves on import, after the registry (the registry imports none).
from laser_plugin.core import baselines, ensembles, linucb, thompson  # noqa: E402,F401  isort: skip

__all__ = ["available_selectors", "make_signal_norm", "make_selector", "register_selector", "selector_option_names"]
