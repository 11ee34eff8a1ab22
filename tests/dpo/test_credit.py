"""Credit assignment (framework-free ``laser_plugin.dpo``): rows -> decisions, the decision-grouped
training order, and one bandit state on two gloo ranks (real BanditRewardPool)."""
import os
import pickle
import socket

import numpy as np
import pytest

from laser_plugin.dpo.credit import DecisionCredit, StepAttribution
from laser_plugin.dpo.sampling import DecisionGroupedOrder

HERE = os.path.dirname(__file__)


def test_decision_completes_once_with_row_mean():
    fb = DecisionCredit({7: 3, 9: 1})
    assert fb.add([7, 9], [-1.0, -4.0]) == [(9, -4.0)]  # decision 9 done after its only row
    assert fb.add([7], [-2.0]) == []
    assert fb.add([7], [-3.0]) == [(7, -2.0)]  # mean of its three rows, fed once
    with pytest.raises(ValueError, match="more rows"):
        fb.add([7], [0.0])
    with pytest.raises(KeyError):
        fb.add([5], [0.0])
    assert fb.pending == [] and fb.flush() == []


def test_partial_decisions_are_flushed_and_weights_respected():
    fb = DecisionCredit({1: 4})
    fb.add([1, 1], [1.0, 4.0], weights=[3.0, 1.0])
    assert fb.flush() == [(1, pytest.approx(1.75))]
    with pytest.raises(ValueError, match="non-finite"):
        DecisionCredit({2: 1}).add([2], [np.nan])


def test_step_attribution_credits_probe_improvement_to_the_steps_rows():
    att = StepAttribution()
    assert att.close_step(0.70) == ([], 0.0)  # baseline at round start
    att.add_rows([3, 4])
    rows, gain = att.close_step(0.65)
    assert rows == [3, 4] and gain == pytest.approx(0.05)
    att.add_rows([5])
    assert att.close_step(0.66)[1] == pytest.approx(-0.01)


def test_decision_grouped_order_keeps_decisions_together_and_ranks_in_lockstep():
    decisions = [0] * 5 + [1] * 4 + [2] * 3  # 12 rows
    one = DecisionGroupedOrder(decisions, micro_batch_size=2, global_batch_size=4, seed=3)
    order = one.global_order
    assert len(order) == 12 and one.dropped == [] and sorted(order) == list(range(12))
    seq = [decisions[i] for i in order]
    assert sum(a != b for a, b in zip(seq, seq[1:])) == 2  # three contiguous blocks
    r0 = DecisionGroupedOrder(decisions, 1, 4, world_size=2, rank=0, seed=3)
    r1 = DecisionGroupedOrder(decisions, 1, 4, world_size=2, rank=1, seed=3)
    assert r0.global_order == order and list(r0) == order[0::2] and list(r1) == order[1::2]
    cut = DecisionGroupedOrder(decisions, 2, 8, seed=3)  # truncated to a whole global batch
    assert len(cut.global_order) == 8 and len(cut.dropped) == 4
    assert sum(cut.trained_counts(decisions).values()) == 8
    with pytest.raises(ValueError, match="multiple"):
        DecisionGroupedOrder(decisions, 3, 4)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_rank_worker(rank, port, out_dir, verifier):
    import torch.distributed as dist

    from laser_plugin.dpo.dist import RankSync
    from laser_plugin.pool.bandit_pool import BanditRewardPool
    from laser_plugin.pool.types import ScoringBatch

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    sync = RankSync()
    # Thompson sampling draws from the RNG of the rank that selects: without the broadcast the
    # ranks' states would drift apart.
    bandit = BanditRewardPool(f"func:{verifier}@v1,func:{verifier}@v2,func:{verifier}@v3", selector="thompson",
                              context_dim=8, seed=rank)
    sync.sync_state(bandit)  # start from rank 0's state
    for step in range(4):
        result = None
        if sync.is_main:
            batch = ScoringBatch(queries=["q 1", "q 2"], prompts=["q ", "q "], responses=["1", "2"], labels=["1", "2"])
            res = bandit.score(batch)
            result = (res.arms.tolist(), res.decision_ids.tolist())
        arms, ids = sync.broadcast(result)
        local_loss = 0.5 + 0.1 * rank + 0.01 * step  # each rank trains its own rows
        gathered = sync.gather((ids[0], local_loss))
        if sync.is_main:
            assert len(gathered) == 2
            bandit.update([ids[0]], [-float(np.mean([loss for _, loss in gathered]))])
        sync.sync_state(bandit)
    state = bandit.state_dict()
    with open(os.path.join(out_dir, f"rank{rank}.pkl"), "wb") as f:
        pickle.dump({k: np.asarray(v) for k, v in state.items()}, f)
    parts = sync.unshard(sync.gather(sync.shard(list(range(7)))))
    assert parts == list(range(7))
    dist.destroy_process_group()


def test_every_rank_holds_the_same_bandit_state(tmp_path):
    import torch.multiprocessing as mp

    verifier = os.path.join(HERE, "..", "adapters", "openrlhf", "dpo", "verifier_reward.py")
    mp.spawn(_two_rank_worker, args=(_free_port(), str(tmp_path), verifier), nprocs=2, join=True)
    s0 = pickle.loads((tmp_path / "rank0.pkl").read_bytes())
    s1 = pickle.loads((tmp_path / "rank1.pkl").read_bytes())
    assert s0.keys() == s1.keys()
    assert all(np.array_equal(s0[k], s1[k]) for k in s0)
    assert s0["counts/reward_n"].sum() == 4  # four decisions, each fed back once with the reduced loss


def test_all_abstained_warning_names_the_fix_that_fits_the_signal():
    from laser_plugin.dpo.credit import all_abstained_warning

    assert all_abstained_warning({"decisions": 4, "abstained": 3, "bandit_updates": 4}, "audit") is None
    assert all_abstained_warning({"decisions": 0, "abstained": 0, "bandit_updates": 0}, "audit") is None
    audit = all_abstained_warning({"decisions": 4, "abstained": 4, "bandit_updates": 1}, "audit")
    assert audit.startswith("every decision abstained, nothing trained")
    assert "lower confidence bound" in audit and "--laser.audit_share" in audit and "--laser.signal audit" not in audit
    verifier = all_abstained_warning({"decisions": 4, "abstained": 4, "bandit_updates": 0}, "verifier")
    assert "the verifier signal judged 0 decisions" in verifier and "--laser.signal audit or auto" in verifier
