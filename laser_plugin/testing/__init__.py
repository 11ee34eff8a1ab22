"""Helpers to dry-run laser_plugin on CPU: tiny models built from configs, and (for PPO/GRPO) a
stand-in rollout engine. Used by the test-suite; users may use them to dry-run launch scripts."""
