"""Offline analyses of a reward pool (agreement between arms, per-arm accuracy)."""
from laser_plugin.analysis.agreement import agreement_matrix, arm_accuracy, correctness

__all__ = ["agreement_matrix", "arm_accuracy", "correctness"]
