"""Inference with a trained bandit: best-of-n ranking and per-domain evaluation."""
