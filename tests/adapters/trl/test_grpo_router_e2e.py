"""The real TRL GRPOTrainer on a tiny Llama with a real 3-arm pool (two OpenRLHF-format RMs, one
func: arm) routed by LaserRewardRouter: only the chosen arm runs, laser/* and pool/* metrics reach
TRL's logs, and a run resumed from a TRL checkpoint makes the same next decisions."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

PROMPTS = [f"What is {a} plus {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (9, 9)]]


class ArmForwardCounter:
    """Counts forward passes of the pool's hf: arm models (whatever model object an arm holds after
    reloads): a global module forward hook, matched against the arms' current models."""

    def __init__(self, pool) -> None:
        self.pool, self.counts = pool, Counter()
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        for arm in self.pool.arms:
            if getattr(arm, "model", None) is module:
                self.counts[arm.name] += 1

    def close(self) -> None:
        self.handle.remove()


def _run(tiny_policy, tiny_reward_models, counting_arm, out: Path, *, resume: str | None = None):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from laser_plugin.adapters.trl import LaserRewardCallback, LaserRewardRouter
    from laser_plugin.pool.specs import parse_pool_spec

    func_spec, _ = counting_arm
    specs = parse_pool_spec([f"hf:{tiny_reward_models[0]}@rm_a", f"hf:{tiny_reward_models[1]}@rm_b", func_spec])
    tok = AutoTokenizer.from_pretrained(str(tiny_policy))
    # round_robin-free exploration: LinUCB with a small alpha still tries every arm in the first calls
    # signal="loss" (LASeR's): only the chosen arm runs (the default audit scores every arm on a share)
    router = LaserRewardRouter(specs, selector="laser", granularity="group", seed=3, policy_tokenizer=tok,
                               pool_kwargs={"residency": 1}, signal="loss")
    counter = ArmForwardCounter(router.bandit.pool)
    config = GRPOConfig(
        output_dir=str(out), max_steps=4, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=6, learning_rate=1e-3, logging_steps=1, save_steps=2, report_to=[],
        seed=0, use_cpu=True, bf16=False, save_only_model=False, log_completions=False,
        dataloader_num_workers=0,
    )
    callback = LaserRewardCallback(router)
    trainer = GRPOTrainer(model=str(tiny_policy), processing_class=tok, reward_funcs=[router], args=config,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS}), callbacks=[callback])
    trainer.train(resume_from_checkpoint=resume)
    counter.close()
    return router, trainer, counter, callback


def test_grpo_router_runs_only_the_chosen_arm_logs_and_resumes_exactly(
    tmp_path, tiny_policy, tiny_reward_models, counting_arm
):
    out = tmp_path / "run"
    router, trainer, counter, _ = _run(tiny_policy, tiny_reward_models, counting_arm, out)
    log = router.decision_log
    assert len(log) == 8  # 4 steps x one call x 2 prompt groups (4 completions, num_generations 2)
    assert all(d["rows"] == 2 for d in log)

    # Only the chosen arm ran: per call, each chosen arm scores once (its rows as one grouped call),
    # checked against the hf: models' real forward passes and the func: arm's own call log.
    chosen_per_call = Counter()
    for call in sorted({d["call"] for d in log}):
        for arm in {d["arm"] for d in log if d["call"] == call}:
            chosen_per_call[arm] += 1
    assert counter.counts["rm_a"] == chosen_per_call["rm_a"]
    assert counter.counts["rm_b"] == chosen_per_call["rm_b"]
    func_calls = counting_arm[1].read_text().split() if counting_arm[1].exists() else []
    assert len(func_calls) == chosen_per_call["distinct"]
    metrics = router.bandit.metrics()
    for arm in ("rm_a", "rm_b", "distinct"):
        assert metrics[f"pool/{arm}/calls"] == chosen_per_call[arm]
    assert sum(chosen_per_call.values()) < 3 * 4  # fewer arm calls than "every arm on every call"
    assert len(chosen_per_call) >= 2  # the bandit explored

    # laser/* and pool/* metrics went through TRL's log_metric into its logs; the loss fed back.
    train_logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(train_logs) == 4
    for key in ("laser/select/rm_a", "laser/choice/distinct", "laser/bandit_reward/rm_b", "pool/rm_a/calls",
                "pool/distinct/seconds", "pool/switches", "rewards/laser_router/mean"):
        assert key in train_logs[-1], key
    assert metrics["laser/decisions"] == 8 and router.pending_decisions == 0
    assert (out / "checkpoint-2" / "laser_bandit.safetensors").is_file()
    assert len((out / "laser_decisions.jsonl").read_text().splitlines()) == 8

    # Resume from checkpoint-2 in a fresh trainer + router: the same decisions for steps 3 and 4.
    # (Same output_dir, as TRL's resume_from_checkpoint=True expects; a checkpoint elsewhere is
    # named with LaserRewardCallback(router, resume_from_checkpoint=...).)
    counting_arm[1].unlink(missing_ok=True)
    resumed, trainer2, _, callback2 = _run(tiny_policy, tiny_reward_models, counting_arm, out,
                                           resume=str(out / "checkpoint-2"))
    assert callback2.restored_from == str(out / "checkpoint-2" / "laser_bandit.safetensors")
    after = [(d["global_step"], d["arm"]) for d in log if d["global_step"] >= 2]
    assert [(d["global_step"], d["arm"]) for d in resumed.decision_log] == after
    assert [d["decision"] for d in resumed.decision_log] == [d["decision"] for d in log if d["global_step"] >= 2]
    # Same policy, RNG and pool normaliser state: steps 3 and 4 get the same rewards as before.
    first = {h["step"]: h["rewards/laser_router/mean"] for h in trainer.state.log_history if "loss" in h}
    again = {h["step"]: h["rewards/laser_router/mean"] for h in trainer2.state.log_history if "loss" in h}
    assert sorted(again) == [1, 2, 3, 4]  # TRL keeps the checkpoint's history
    assert [again[s] for s in (3, 4)] == pytest.approx([first[s] for s in (3, 4)], abs=1e-5)
    # ... and both runs end with the same bandit (selector, signal normaliser, arm statistics).
    end_a, end_b = router.state_dict(), resumed.state_dict()
    assert sorted(end_a) == sorted(end_b)
    for key in end_a:
        np.testing.assert_allclose(np.asarray(end_a[key], dtype=float), np.asarray(end_b[key], dtype=float),
                                   rtol=1e-6, atol=1e-8, err_msg=key)


def test_rloo_trainer_takes_the_same_router(tmp_path, tiny_policy):
    """TRL's RLOOTrainer calls reward_funcs the same way: one arm per prompt group, loss fed back."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RLOOConfig, RLOOTrainer

    from laser_plugin.adapters.trl import LaserRewardRouter

    here = Path(__file__).parent
    specs = [{"kind": "func", "target": str(here / "counting_reward.py"), "name": name,
              "func_kwargs": {"log_path": str(tmp_path / f"{name}.log"), "offset": off}}
             for name, off in (("a", 0.0), ("b", 0.5), ("c", 1.0))]
    router = LaserRewardRouter(specs, selector="laser", granularity="group", signal="loss")
    tok = AutoTokenizer.from_pretrained(str(tiny_policy))
    config = RLOOConfig(output_dir=str(tmp_path / "rloo"), max_steps=3, per_device_train_batch_size=4,
                        num_generations=2, max_completion_length=6, logging_steps=1, save_strategy="no",
                        report_to=[], seed=0, use_cpu=True, bf16=False, log_completions=False)
    trainer = RLOOTrainer(model=str(tiny_policy), processing_class=tok, reward_funcs=[router], args=config,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS}), callbacks=[router.callback()])
    trainer.train()
    assert router.num_generations == 2 and len(router.decision_log) == 6  # 3 calls x 2 groups
    calls = {n: len((tmp_path / f"{n}.log").read_text().split()) if (tmp_path / f"{n}.log").exists() else 0
             for n in "abc"}
    per_call = Counter(a for c in range(3) for a in {d["arm"] for d in router.decision_log if d["call"] == c})
    assert calls == {n: per_call[n] for n in "abc"}
    assert router.pending_decisions == 0 and router.bandit.metrics()["laser/decisions"] == 6
    assert "laser/select/a" in [h for h in trainer.state.log_history if "loss" in h][-1]
