"""The pool on Ray: the BanditRewardPool actor (logical GPU, CPU setup hook), the ZeRO-3 actor
group across two ranks, and the group placed on two Ray nodes."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.pool.conftest import make_batch


def test_bandit_pool_actor_on_local_ray(local_ray, tiny_reward_models, func_dir, tiny_policy):
    pytest.importorskip("laser_plugin.core.feedback", reason="selection core not installed yet")
    from laser_plugin.pool.actor import create_bandit_reward_pool_actor

    rm_a, _, rm_c = tiny_reward_models
    specs = f"hf:{rm_a},hf:{rm_c},func:{func_dir / 'verifier.py'}"
    actor = create_bandit_reward_pool_actor(
        num_cpus=1, num_gpus=1, pool=specs, selector="laser", context_dim=16, granularity="row",
        pool_kwargs={"policy_tokenizer": str(tiny_policy), "residency": 1},
    )
    batch = make_batch(6, group_size=3)
    res = local_ray.get(actor.score.remote(batch))
    assert res.rewards.shape == (6,) and np.isfinite(res.rewards).all()
    out = local_ray.get(actor.update.remote(res.decision_ids, np.ones(6)))
    assert len(out["decision_ids"]) == 2
    metrics = local_ray.get(actor.metrics.remote())
    assert metrics["laser/decisions"] == 2.0 and "pool/rm_a/calls" in metrics
    gpu_ids = local_ray.get(actor.__ray_call__.remote(lambda self: __import__("ray").get_gpu_ids()))
    assert len(gpu_ids) == 1  # a logical GPU was reserved for the pool
    state = local_ray.get(actor.state_dict.remote())
    local_ray.get(actor.load_state_dict.remote(state))
    assert int(np.asarray(state["next_id"]).reshape(-1)[0]) == 2
    local_ray.kill(actor)


@pytest.mark.slow
def test_zero3_actor_group_matches_the_local_pool(local_ray, tiny_reward_models):
    from laser_plugin.adapters.openrlhf.pool_actor_group import PoolActorGroup
    from laser_plugin.adapters.openrlhf.strategy import make_strategy
    from laser_plugin.pool import RewardPool

    rm_a, _, rm_c = tiny_reward_models
    specs = f"hf:{rm_a},hf:{rm_c}"
    # train.batch_size must be a multiple of the world size for DeepSpeed's batch arithmetic.
    strategy = make_strategy(**{"ds.zero_stage": 3, "train.batch_size": 2})
    group = PoolActorGroup(specs, strategy, num_nodes=1, num_gpus_per_node=2)
    try:
        batch = make_batch(5)  # odd: shards are padded to equal size so ZeRO-3 ranks stay in lockstep
        remote = group.as_pool(normalize="none")
        _, raw, used = remote.score(batch, np.array([0, 1, 1, 0, 1]), return_arms=True)
        _, expected = RewardPool(specs, normalize="none").score(batch, np.array([0, 1, 1, 0, 1]))
        np.testing.assert_allclose(raw, expected, atol=0.1, rtol=0.03)  # bf16, partitioned vs whole
        assert (used == [0, 1, 1, 0, 1]).all()
        shard = group.metrics()
        assert [m["pool/rm_a/samples"] for m in shard] == [1.0, 1.0]  # 2 rows over 2 ranks
        assert [m["pool/rm_c/samples"] for m in shard] == [2.0, 2.0]  # 3 rows + 1 pad: same forwards per rank
    finally:
        for actor in group.actors:
            local_ray.kill(actor)


@pytest.mark.slow
def test_actor_group_spreads_over_two_ray_nodes(tiny_reward_models):
    """Its own Ray (a ray.cluster_utils.Cluster) in a subprocess: the session's Ray stays untouched."""
    rm_a, _, rm_c = tiny_reward_models
    script = Path(__file__).with_name("two_node_cluster.py")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(script), str(rm_a), str(rm_c)], capture_output=True, text=True,
                         timeout=400, cwd=root)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, (out.stdout + out.stderr)[-4000:]
    result = json.loads(line[7:])
    assert result["cluster_nodes"] == 2 and len(set(result["nodes"])) == 2  # one rank per node
    np.testing.assert_allclose(result["raw"], result["expected"], atol=0.1, rtol=0.03)
