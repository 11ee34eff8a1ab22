"""The trainer side of the PPO/GRPO hook: wrap three trainer methods, and where bandit states live.

* (``activate.install_hooks`` binds ``LaserExperienceMaker`` in ``openrlhf.trainer.ppo_trainer`` when
  that module is imported, in the driver and in every Ray worker: ``BasePPOTrainer.__init__`` looks
  ``RemoteExperienceMaker`` up there; the maker then calls ``wrap_trainer`` on its trainer.)
* ``wrap_trainer(trainer)`` wraps, on the trainer *instance*, three methods (never copies of them):
  ``train_step`` (the delayed loss feedback goes to the bandit and its metrics join the step
  ``status`` that OpenRLHF logs to wandb / tensorboard), ``save_logs_and_checkpoints`` (the bandit
  state is saved beside OpenRLHF's checkpoint, as safetensors) and ``init_checkpoint_states`` (on
  resume the bandit state of that step is restored, so the next decisions are the same).
  Instance attributes rather than class patches: Ray ships the ``@ray.remote`` PPOTrainer class to
  its worker by value, so a patch of ``BasePPOTrainer`` in the worker's module never reaches the
  trainer that actually runs; the instance is the one object both sides agree on.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import MethodType
from typing import Any, Callable, Optional

from laser_plugin.adapters.openrlhf.checkpoints import (
    Pick, has_model_states, newest_complete, read_latest, tag_step, truncate_jsonl, write_latest,
)
from laser_plugin.config import LaserConfig


def state_dir(args: Any, config: LaserConfig) -> str:
    """Bandit states and the decision log: --reward_selector.state_dir, else beside OpenRLHF's checkpoints."""
    return config.state_dir or os.path.join(args.ckpt.path, "laser_bandit")


def bandit_state_path(args: Any, config: LaserConfig, global_step: int) -> str:
    return os.path.join(state_dir(args, config), f"global_step{int(global_step)}.safetensors")


def wrap_trainer(trainer: Any) -> None:
    """Wrap ``trainer``'s train_step / save_logs_and_checkpoints / init_checkpoint_states (idempotent)."""
    if getattr(trainer, "_laser_wrapped", False):
        return
    train_step, save, init_states = trainer.train_step, trainer.save_logs_and_checkpoints, trainer.init_checkpoint_states
    # BasePPOTrainer.__init__ (our caller) runs before train() builds the actors, which load
    # `_actor/latest`: point it at the newest complete checkpoint now.
    args, config = getattr(trainer, "args", None), LaserConfig.from_env()
    if args is not None and config is not None and args.ckpt.load_enable:
        choose_resume_checkpoint(args, lambda step: bandit_state_path(args, config, step), state_dir(args, config))

    def laser_train_step(self: Any, rollout_samples: Any, global_step: int):
        status, next_step = train_step(rollout_samples, global_step)
        status.update(self.experience_maker.finish_step(status, next_step))
        return status, next_step

    def laser_save(self: Any, global_step: int, logs_dict: Any = None, client_states: Any = None) -> None:
        if global_step % self.args.ckpt.save_steps == 0:
            # Before upstream's save: DeepSpeed moves `latest` at its very end, so any step `latest`
            # names already has its bandit state (written atomically: temporary name + rename).
            maker = self.experience_maker
            path = bandit_state_path(self.args, maker.laser_config, global_step)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            maker.bandit.save(path)
            print(f"[laser_plugin] saved bandit state {path}")
        save(global_step, logs_dict, client_states)

    def laser_init_states(self: Any) -> dict:
        states = init_states()
        if not states:  # `_actor` exists without `latest` (killed in its first save): upstream returns {}
            states = {"episode": 0, "global_step": 0, "total_consumed_prompts": 0, "data_loader_state_dict": {}}
        step = int(states.get("global_step", 0))
        maker = self.experience_maker
        if step > 0:
            path = bandit_state_path(self.args, maker.laser_config, step)
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"resuming from global_step {step} but the bandit state {path} is missing; restore it, "
                    "or start the bandit fresh with a new --reward_selector.state_dir"
                )
            maker.bandit.load(path)
            print(f"[laser_plugin] restored bandit state {path}")
        if self.args.ckpt.load_enable:  # decisions after the resumed step are made again: log them once
            log = os.path.join(state_dir(self.args, maker.laser_config), "decisions.jsonl")
            kept, dropped = truncate_jsonl(log, lambda row: int(row.get("global_step", 0)) <= step)
            if dropped:
                print(f"[laser_plugin] decision log {log}: kept {kept} rows up to global_step {step}, "
                      f"dropped {dropped} written after it")
        return states

    trainer.train_step = MethodType(laser_train_step, trainer)
    trainer.save_logs_and_checkpoints = MethodType(laser_save, trainer)
    trainer.init_checkpoint_states = MethodType(laser_init_states, trainer)
    trainer._laser_wrapped = True


def choose_resume_checkpoint(args: Any, state_path: Callable[[int], str], states_dir: str) -> Pick:
    """``--ckpt.load_enable``: the newest COMPLETE step under ``<ckpt.path>/_actor`` (DeepSpeed files,
    its bandit state ``state_path(step)``, the critic's files when there is a critic), never one newer
    than ``latest``. When ``latest`` names another (a checkpoint written before bandit states were
    saved first, a file deleted by hand), ``latest`` is pointed at it for the actors' own load; with
    none, ``latest`` is moved aside and upstream starts fresh. Prints which step and why others were
    skipped (bandit states in ``states_dir`` of steps DeepSpeed never wrote included)."""
    actor, critic = Path(args.ckpt.path) / "_actor", Path(args.ckpt.path) / "_critic"
    if not actor.is_dir():
        return Pick(actor, None, None)

    def missing(tag_dir: Path) -> Optional[str]:
        if not has_model_states(tag_dir):
            return "no DeepSpeed model states"
        state = state_path(tag_step(tag_dir.name, "global_step"))
        if not os.path.isfile(state):
            return f"no bandit state {state}"
        if critic.is_dir() and not has_model_states(critic / tag_dir.name):
            return "no critic checkpoint"
        return None

    pick = newest_complete(actor, "global_step", missing)
    # bandit states of steps whose DeepSpeed save never finished (they are written first)
    for name in sorted(os.listdir(states_dir)) if os.path.isdir(states_dir) else []:
        step = tag_step(name[: -len(".safetensors")], "global_step") if name.endswith(".safetensors") else None
        if step is not None and step > (pick.step or 0) and not (actor / f"global_step{step}").is_dir():
            pick.skipped.append((f"global_step{step}", "bandit state saved, DeepSpeed checkpoint never written"))
    if pick.tag is not None and pick.tag != read_latest(actor):
        for root in (actor, critic):
            if root.is_dir():
                write_latest(root, pick.tag)
    elif pick.tag is None and (actor / "latest").exists():
        os.replace(actor / "latest", actor / "latest.incomplete")  # upstream then starts from step 0
    if pick.tag is not None or pick.skipped:
        print(f"[laser_plugin] {pick.describe()}", flush=True)
    return pick
