"""Two logical Ray nodes on this machine (``ray.cluster_utils.Cluster``): the pool actor group is
placed STRICT_SPREAD, one ZeRO-3 rank per node, and scores across nodes as the local pool does.

Run by tests/pool/test_actor.py in its own process (it needs its own Ray, separate from the
session's local Ray). Prints one ``RESULT {json}`` line.
"""
from __future__ import annotations

import json
import sys

import numpy as np


def main(rm_paths: list[str]) -> None:
    from laser_plugin.compat import apply_cpu_compat, cpu_ray_runtime_env

    apply_cpu_compat()
    import ray
    from ray.cluster_utils import Cluster
    from ray.util.placement_group import placement_group

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=2, num_gpus=1)
    try:
        ray.init(address=cluster.address, runtime_env=cpu_ray_runtime_env(), log_to_driver=False)
        cluster.wait_for_nodes()
        from laser_plugin.adapters.openrlhf.ppo.pool_actor_group import PoolActorGroup
        from laser_plugin.adapters.openrlhf.strategy import make_strategy
        from laser_plugin.pool import RewardPool, ScoringBatch

        pg = placement_group([{"GPU": 1, "CPU": 1}] * 2, strategy="STRICT_SPREAD")
        ray.get(pg.ready(), timeout=120)
        strategy = make_strategy(**{"ds.zero_stage": 3, "train.batch_size": 2})
        specs = ",".join(f"hf:{p}" for p in rm_paths)
        group = PoolActorGroup(specs, strategy, num_nodes=2, num_gpus_per_node=1, pg=pg)
        prompts = ["What is 12 plus 7?", "Is the sky blue?", "Can fish fly?", "Name a colour.", "Is 7 prime?"]
        responses = ["The answer is 19.", "Yes.", "No, most fish cannot fly.", "Blue.", "Yes, it is."]
        batch = ScoringBatch([p + " " + r for p, r in zip(prompts, responses)], prompts, responses)
        arms = np.array([0, 1, 1, 0, 1])  # 5 rows: shards are padded to equal size (ZeRO-3 lockstep)
        remote = group.as_pool(normalize="none")
        _, raw, used = remote.score(batch, arms, return_arms=True)
        local = RewardPool(specs, normalize="none")
        _, expected = local.score(batch, arms)
        nodes = group.node_ids()
        print("RESULT " + json.dumps({
            "nodes": nodes, "cluster_nodes": len({n["NodeID"] for n in ray.nodes() if n["Alive"]}),
            "raw": raw.tolist(), "expected": expected.tolist(), "used": used.tolist(), "shards": group.metrics(),
        }), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
