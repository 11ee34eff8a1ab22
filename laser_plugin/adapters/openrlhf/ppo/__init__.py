"""PPO/GRPO on OpenRLHF: the bandit-pool experience maker, the reward actor group, trainer hooks, preflight."""
