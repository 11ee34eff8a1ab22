"""Small wrappers around three BasePPOTrainer methods (never copies of them):

* ``train_step``: after upstream's step, the delayed loss feedback goes to the bandit and the
  bandit's metrics join the step ``status`` that OpenRLHF logs to wandb / tensorboard;
* ``save_logs_and_checkpoints``: when upstream saves a checkpoint, the bandit state is saved
  beside it (safetensors, no pickle);
* ``init_checkpoint_states``: when upstream resumes, the bandit state of that step is restored,
  so a resumed run makes the same next decisions.

Installed in every process that imports ``openrlhf.trainer.ppo_trainer`` (see ``activate``).
"""
from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

logger = logging.getLogger("laser_plugin.ppo")


def install(ppo_trainer_module: ModuleType) -> None:
    from laser_plugin.adapters.openrlhf.ppo_experience import LaserExperienceMaker, bandit_state_path

    base = ppo_trainer_module.BasePPOTrainer
    if getattr(base, "_laser_hooked", False):
        return
    # BasePPOTrainer.__init__ looks the class up in its module: swap it there.
    ppo_trainer_module.RemoteExperienceMaker = LaserExperienceMaker
    train_step, save, init_states = base.train_step, base.save_logs_and_checkpoints, base.init_checkpoint_states

    def laser_train_step(self: Any, rollout_samples: Any, global_step: int):
        status, next_step = train_step(self, rollout_samples, global_step)
        status.update(self.experience_maker.finish_step(status, next_step))
        return status, next_step

    def laser_save(self: Any, global_step: int, logs_dict: Any = None, client_states: Any = None) -> None:
        save(self, global_step, logs_dict, client_states)
        if global_step % self.args.ckpt.save_steps == 0:
            maker = self.experience_maker
            path = bandit_state_path(self.args, maker.laser_config, global_step)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            maker.bandit.save(path)
            logger.info("saved bandit state %s", path)

    def laser_init_states(self: Any) -> dict:
        states = init_states(self)
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
            logger.info("restored bandit state %s", path)
        return states

    base.train_step = laser_train_step
    base.save_logs_and_checkpoints = laser_save
    base.init_checkpoint_states = laser_init_states
    base._laser_hooked = True
