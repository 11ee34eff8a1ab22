"""The pool on Ray: the BanditRewardPool actor (logical GPU, CPU setup hook), and the ZeRO-3 actor
group, one rank on each of two Ray nodes."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.pool.conftest import make_batch


def test_bandit_pool_actor_on_local_ray(local_ray, tiny_reward_models, func_dir, tiny_policy):
    pytest.importorskip("laser_plugin.core.signal_norm", reason="selection core not installed yet")
    from laser_plugin.pool.actor import create_bandit_reward_pool_actor

    rm_a, _, rm_c = tiny_reward_models
    specs = f"hf:{rm_a},hf:{rm_c},func:{func_dir / 'verifier.py'}"
    actor = create_bandit_reward_pool_actor(
        num_cpus=1, num_gpus=1, pool=specs, selector="laser", context_dim=16, granularity="group",
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
def test_actor_group_spreads_over_two_ray_nodes(tiny_reward_models):
    """A ZeRO-3 pool actor group, one rank on each of two Ray nodes (a ray.cluster_utils.Cluster in a
    subprocess: the session's Ray stays untouched), scores as the local pool does; odd batches are
    padded so that both ranks run the same forwards. One Ray cluster for both checks (suite budget)."""
    rm_a, _, rm_c = tiny_reward_models
    script = Path(__file__).with_name("two_node_cluster.py")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(script), str(rm_a), str(rm_c)], capture_output=True, text=True,
                         timeout=400, cwd=root)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, (out.stdout + out.stderr)[-4000:]
    result = json.loads(line[7:])
    assert result["cluster_nodes"] == 2 and len(set(result["nodes"])) == 2  # one rank per node
    np.testing.assert_allclose(result["raw"], result["expected"], atol=0.1, rtol=0.03)  # partitioned vs whole
    assert result["used"] == [0, 1, 1, 0, 1]
    shard = result["shards"]
    assert [m["pool/rm_a/samples"] for m in shard] == [1.0, 1.0]  # 2 rows over 2 ranks
    assert [m["pool/rm_c/samples"] for m in shard] == [2.0, 2.0]  # 3 rows + 1 pad: same forwards per rank
