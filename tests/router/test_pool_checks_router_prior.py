"""Whoever builds an online bandit with a router prior refuses one trained for other contexts (same K
and d): iterative DPO's bandit factory and the TRL router (the PPO preflight: tests/adapters/openrlhf). The pool
itself does not know router files (it sits below the router)."""
import numpy as np
import pytest

from laser_plugin.pool.bandit_pool import BanditRewardPool
from laser_plugin.router.encoders import EncoderSpec
from laser_plugin.router.model import TrainedRouter
from laser_plugin.router.prior import save_router

FUNC = "import torch\ndef reward_func(queries, prompts, labels, **kw):\n    return torch.zeros(len(queries))\n"


def _router_file(path, seed):
    w = np.arange(16, dtype=float).reshape(2, 8) / 16
    router = TrainedRouter(projection=np.eye(8), arm_vectors=w, weights=w, calibration=np.array([1.0, 0.0]),
                           train_pairs=1, final_loss=0.0)
    save_router(path, router, ["a", "b"], EncoderSpec("hashing", "hashing", 8, seed))
    return str(path)


def test_bandit_builders_check_the_router_file_encoder_seed(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(FUNC)
    pool = f"func:{tmp_path / 'a.py'},func:{tmp_path / 'b.py'}"
    good = _router_file(tmp_path / "r0.safetensors", seed=0)
    bandit = BanditRewardPool(pool, selector="bayesian_router", selector_config={"prior": good}, context_dim=8, seed=0)
    x = np.eye(8)[:1]
    np.testing.assert_allclose(bandit.selector.expected_scores(x)[0], [0.0, 0.5])
    other_seed = _router_file(tmp_path / "r7.safetensors", seed=7)
    from laser_plugin.adapters.openrlhf.bandit import make_bandit
    from laser_plugin.adapters.trl.router import LaserRewardRouter
    from laser_plugin.config import LaserConfig

    for prior, ok in ((good, True), (other_seed, False)):
        laser = LaserConfig(selector="bayesian_router", pool=pool, selector_options={"prior": prior}, context_dim=8)
        build = (lambda: make_bandit(laser, tokenizer=None),  # noqa: E731
                 lambda: LaserRewardRouter(pool, selector="bayesian_router", selector_options={"prior": prior},
                                           context_dim=8, seed=0))
        for make in build:
            if ok:
                make()
            else:
                with pytest.raises(ValueError, match="its encoder seed is 7, but the pool's is 0"):
                    make()


def test_iterative_dpo_refuses_a_router_prior_on_policy_contexts_before_loading_models(tmp_path):
    from laser_plugin.adapters.openrlhf.bandit import check_prior_contexts
    from laser_plugin.config import LaserConfig

    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(FUNC)
    pool = f"func:{tmp_path / 'a.py'},func:{tmp_path / 'b.py'}"
    laser = LaserConfig(selector="bayesian_router", pool=pool, context_dim=8,
                        selector_options={"prior": _router_file(tmp_path / "r.safetensors", seed=0)})
    check_prior_contexts(laser, "encoder")  # the router's own context space: fine
    with pytest.raises(ValueError, match="add --laser.context encoder .*--reward_selector.context_encoder hashing"):
        check_prior_contexts(laser, "policy")
    check_prior_contexts(LaserConfig(selector="thompson", pool=pool, context_dim=8), "policy")  # no prior
