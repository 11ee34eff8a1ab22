"""Evaluation for verifiable tasks: answer extraction, accuracy and arm-selection share per domain."""
from laser_plugin.eval.answers import ANSWER_KINDS, extract_answer, infer_kind, is_correct
from laser_plugin.eval.metrics import accuracy_by_domain, arm_share_by_domain

__all__ = ["ANSWER_KINDS", "accuracy_by_domain", "arm_share_by_domain", "extract_answer", "infer_kind", "is_correct"]
