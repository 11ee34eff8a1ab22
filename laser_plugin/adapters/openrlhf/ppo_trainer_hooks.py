"""The trainer side of the PPO/GRPO hook: swap the experience maker, wrap three trainer methods.

* ``install(module)`` runs when ``openrlhf.trainer.ppo_trainer`` is imported (in the driver and in
  every Ray worker): ``BasePPOTrainer.__init__`` looks ``RemoteExperienceMaker`` up in that module,
  so binding ``LaserExperienceMaker`` there is all it takes.
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
from types import MethodType, ModuleType
from typing import Any



def install(ppo_trainer_module: ModuleType) -> None:
    from laser_plugin.adapters.openrlhf.ppo_experience import LaserExperienceMaker

    ppo_trainer_module.RemoteExperienceMaker = LaserExperienceMaker


def wrap_trainer(trainer: Any) -> None:
    """Wrap ``trainer``'s train_step / save_logs_and_checkpoints / init_checkpoint_states (idempotent)."""
    from laser_plugin.adapters.openrlhf.ppo_experience import bandit_state_path

    if getattr(trainer, "_laser_wrapped", False):
        return
    train_step, save, init_states = trainer.train_step, trainer.save_logs_and_checkpoints, trainer.init_checkpoint_states

    def laser_train_step(self: Any, rollout_samples: Any, global_step: int):
        status, next_step = train_step(rollout_samples, global_step)
        status.update(self.experience_maker.finish_step(status, next_step))
        return status, next_step

    def laser_save(self: Any, global_step: int, logs_dict: Any = None, client_states: Any = None) -> None:
        save(global_step, logs_dict, client_states)
        if global_step % self.args.ckpt.save_steps == 0:
            maker = self.experience_maker
            path = bandit_state_path(self.args, maker.laser_config, global_step)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            maker.bandit.save(path)
            print(f"[laser_plugin] saved bandit state {path}")

    def laser_init_states(self: Any) -> dict:
        states = init_states()
        step = int(states.get("global_step", 0))
        if step > 0:
            maker = self.experience_maker
            path = bandit_state_path(self.args, maker.laser_config, step)
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"resuming from global_step {step} but the bandit state {path} is missing; restore it, "
                    "or start the bandit fresh with a new --reward_selector.state_dir"
                )
            maker.bandit.load(path)
            print(f"[laser_plugin] restored bandit state {path}")
        return states

    trainer.train_step = MethodType(laser_train_step, trainer)
    trainer.save_logs_and_checkpoints = MethodType(laser_save, trainer)
    trainer.init_checkpoint_states = MethodType(laser_init_states, trainer)
    trainer._laser_wrapped = True
