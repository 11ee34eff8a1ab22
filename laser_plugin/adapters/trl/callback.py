"""``LaserRewardCallback``: the trainer side of the TRL router (feedback, logs, checkpoints).

* ``on_train_begin``: reads ``num_generations`` / ``steps_per_generation`` / ``num_iterations`` from
  the trainer's config; on a resumed run (``state.global_step > 0``) restores the router's state from
  the checkpoint being resumed, so the next decisions are the ones the uninterrupted run would make;
* ``on_log``: the step's ``loss`` (Trainer's mean over the logging window) goes back to the bandit as
  LASeR's signal ``-loss``, for every decision whose rewards were trained on by then; the decisions
  are appended to ``<output_dir>/laser_decisions.jsonl``;
* ``on_save``: the router state (selector, signal normaliser, per-arm score statistics, pending
  feedback) is written as safetensors into TRL's checkpoint folder, ``checkpoint-N/laser_bandit.safetensors``,
  so it is rotated, copied and resumed with the checkpoint;
* ``on_prediction_step``: decisions made while TRL evaluates get no loss feedback.

The ``laser/*`` and ``pool/*`` metrics reach TRL's logs (and wandb / tensorboard) through the
``log_metric`` hook TRL hands to reward functions, not here: TRL's reporting callbacks run before
user callbacks, so adding to ``logs`` in ``on_log`` would miss them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

if TYPE_CHECKING:  # the router makes callbacks (``router.callback()``): no import back at run time
    from laser_plugin.adapters.trl.router import LaserRewardRouter

_ROUTER_METHODS = ("configure", "load", "save", "feed_loss", "discard_since")

STATE_FILE = "laser_bandit.safetensors"
DECISION_LOG = "laser_decisions.jsonl"


def _rank_suffix(args: Any) -> str:
    # With several processes each rank's router decides on its own slice of the batch.
    return f"_rank{args.process_index}" if int(getattr(args, "world_size", 1) or 1) > 1 else ""


class LaserRewardCallback(TrainerCallback):
    def __init__(
        self,
        router: "LaserRewardRouter",
        *,
        resume_from_checkpoint: Optional[Union[str, Path]] = None,
        loss_key: str = "loss",
        write_decisions: bool = True,
    ) -> None:
        if not all(callable(getattr(router, m, None)) for m in _ROUTER_METHODS):
            raise TypeError(f"LaserRewardCallback needs a LaserRewardRouter, got {type(router).__name__}")
        self.router = router
        self.resume_from_checkpoint = None if resume_from_checkpoint is None else str(resume_from_checkpoint)
        self.loss_key = loss_key
        self.write_decisions = write_decisions
        self._train_calls = 0  # router calls made by training steps (later ones are evaluation calls)
        self._written = 0  # decisions (counted from the router's first) already in laser_decisions.jsonl
        self.restored_from: Optional[str] = None

    # ---------------------------------------------------------------- paths
    def state_path(self, checkpoint_dir: Union[str, Path], args: Any) -> Path:
        return Path(checkpoint_dir) / STATE_FILE.replace(".safetensors", f"{_rank_suffix(args)}.safetensors")

    def _resume_dir(self, args: Any, step: int) -> Path:
        explicit = self.resume_from_checkpoint or (
            args.resume_from_checkpoint if isinstance(getattr(args, "resume_from_checkpoint", None), str) else None
        )
        candidates = [Path(explicit)] if explicit else []
        candidates.append(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{step}")
        for cand in candidates:
            if self.state_path(cand, args).is_file():
                return cand
        raise FileNotFoundError(
            f"resuming at global_step {step} but no {STATE_FILE} in {[str(c) for c in candidates]}: pass the "
            "checkpoint to LaserRewardCallback(router, resume_from_checkpoint=...) (or TrainingArguments."
            "resume_from_checkpoint) when it is not under output_dir, or start without resuming"
        )

    # ---------------------------------------------------------------- hooks
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.router.configure(args)
        step = int(state.global_step)
        if step > 0:  # Trainer restored TrainerState from a checkpoint: restore the bandit of that step
            folder = self._resume_dir(args, step)
            path = self.state_path(folder, args)
            self.router.load(path, expect_step=step)
            self.restored_from = str(path)
            self._written = self.router.decision_log_dropped + len(self.router.decision_log)
        self._train_calls = self.router.calls

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._train_calls = self.router.calls

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.router.discard_since(self._train_calls)

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[dict[str, float]] = None,
               **kwargs: Any) -> None:
        if logs and self.loss_key in logs and logs[self.loss_key] is not None:
            self.router.feed_loss(float(logs[self.loss_key]), int(state.global_step))
        self._write_decisions(args)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        folder.mkdir(parents=True, exist_ok=True)
        self.router.save(self.state_path(folder, args), global_step=int(state.global_step))
        self._write_decisions(args)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._write_decisions(args)

    def _write_decisions(self, args: Any) -> None:
        log, dropped = self.router.decision_log, self.router.decision_log_dropped
        start = max(self._written - dropped, 0)
        if not self.write_decisions or start >= len(log):
            return
        os.makedirs(args.output_dir, exist_ok=True)
        path = Path(args.output_dir) / DECISION_LOG.replace(".jsonl", f"{_rank_suffix(args)}.jsonl")
        with open(path, "a") as fh:
            for row in log[start:]:
                fh.write(json.dumps(row) + "\n")
        self._written = dropped + len(log)
