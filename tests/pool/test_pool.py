"""RewardPool on real arms: grouped dispatch, residency, normalisation, failures, quarantine."""
import numpy as np
import pytest

from laser_plugin.pool import ArmLoadError, ArmSpec, PoolExhaustedError, RewardPool
from tests.pool.conftest import make_batch


def _length_arms(func_dir, factors=(1.0, 10.0, 100.0)):
    return [ArmSpec("func", str(func_dir / "length.py"), name=f"len{int(f)}", func_kwargs={"factor": f})
            for f in factors]


def test_importing_the_pool_pulls_no_ray_or_openrlhf():
    import subprocess
    import sys

    code = ("import sys, laser_plugin.pool, laser_plugin.pool.bandit_pool, laser_plugin.pool.actor;"
            "print([m for m in sys.modules if m.split('.')[0] in ('ray','openrlhf','deepspeed','vllm')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "kwargs, match",
    [({"residency": 0}, "residency"), ({"normalize": "minmax"}, "normalize"), ({"offload": "disk"}, "offload"),
     ({"quarantine_s": -1}, "quarantine_s"), ({"micro_batch_size": 0}, "micro_batch_size"),
     ({"device": "gpu0"}, "device")],
)
def test_pool_options_are_validated(func_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        RewardPool(_length_arms(func_dir), **kwargs)


def test_grouped_dispatch_keeps_input_order_and_calls_each_arm_once(func_dir):
    pool = RewardPool(_length_arms(func_dir), normalize="none")
    pool.load_all()
    batch = make_batch(6)
    arms = np.array([2, 0, 1, 0, 2, 1])
    norm, raw, used = pool.score(batch, arms, return_arms=True)
    expected = np.array([len(q) for q in batch.queries]) * np.array([1.0, 10.0, 100.0])[arms]
    np.testing.assert_allclose(raw, expected)
    np.testing.assert_allclose(norm, expected)  # normalize="none"
    assert (used == arms).all()
    m = pool.metrics()
    assert [m[f"pool/len{f}/calls"] for f in (1, 10, 100)] == [1.0, 1.0, 1.0]
    assert [m[f"pool/len{f}/samples"] for f in (1, 10, 100)] == [2.0, 2.0, 2.0]


def test_running_normalisation_puts_arms_on_one_scale_and_round_trips(func_dir):
    pool = RewardPool(_length_arms(func_dir, (1.0, 1000.0)))
    pool.load_all()
    batch = make_batch(6)
    a, _ = pool.score(batch, np.zeros(6, dtype=int))
    b, raw_b = pool.score(batch, np.ones(6, dtype=int))
    np.testing.assert_allclose(a, b, atol=1e-5)  # same ranking, 1000x scale, identical z-scores
    assert abs(a.mean()) < 1e-6 and a.std() == pytest.approx(1.0, abs=1e-4)
    assert pool.metrics()["pool/len1000/score_mean"] == pytest.approx(raw_b.mean(), rel=1e-5)
    other = RewardPool(_length_arms(func_dir, (1.0, 1000.0)))
    other.load_state_dict(pool.state_dict())
    np.testing.assert_allclose(other.normalizer.apply(1, raw_b), pool.normalizer.apply(1, raw_b))


def test_nan_scores_quarantine_the_arm_and_rows_fall_back(func_dir):
    now = [0.0]
    specs = [ArmSpec("func", str(func_dir / "nan_after.py"), name="nan", func_kwargs={"good_calls": 1}),
             *_length_arms(func_dir, (1.0,))]
    pool = RewardPool(specs, normalize="none", quarantine_s=60.0, clock=lambda: now[0])
    pool.load_all()
    batch = make_batch(4)
    _, raw, used = pool.score(batch, np.array([0, 1, 0, 1]), return_arms=True)
    assert (used == [0, 1, 0, 1]).all()  # first call of the nan arm is still fine
    _, raw, used = pool.score(batch, np.array([0, 1, 0, 1]), return_arms=True)
    assert (used == 1).all() and np.isfinite(raw).all()  # NaN rows re-scored by the other arm
    np.testing.assert_allclose(raw, [len(q) for q in batch.queries])
    m = pool.metrics()
    assert (m["pool/nan/nan_events"], m["pool/nan/quarantines"], m["pool/nan/quarantined"]) == (1.0, 1.0, 1.0)
    assert pool.quarantined() == {0} and pool.events[-1]["quarantined"]
    now[0] = 61.0  # quarantine over: the arm is eligible again
    assert pool.quarantined() == set()


def test_all_arms_failing_raises_instead_of_returning_garbage(func_dir):
    spec = ArmSpec("func", str(func_dir / "nan_after.py"), name="nan", func_kwargs={"good_calls": -1})
    pool = RewardPool([spec])
    with pytest.raises(PoolExhaustedError):
        pool.score(make_batch(2), np.zeros(2, dtype=int))
    # Rows scored before the pool ran out come back with the error, nothing silently filled in.
    pool = RewardPool([*_length_arms(func_dir, (1.0,)), spec], normalize="none")

    def no_fallback(rows, excluded):
        raise PoolExhaustedError("no arm left")

    batch = make_batch(3)
    with pytest.raises(PoolExhaustedError) as err:
        pool.score(batch, np.array([0, 1, 0]), fallback=no_fallback)
    assert err.value.done.tolist() == [True, False, True]
    assert err.value.raw[[0, 2]].tolist() == [len(batch.queries[0]), len(batch.queries[2])]


@pytest.mark.parametrize(
    "spec, cause",
    [
        (lambda d, m: ArmSpec("func", str(d / "no_func.py"), name="nofunc"), "no callable reward_func"),
        (lambda d, m: ArmSpec("func", str(d / "broken.py"), name="broken"), "SyntaxError"),
        (lambda d, m: ArmSpec("func", str(d / "absent.py"), name="absent"), "absent.py"),
        (lambda d, m: ArmSpec("hf", str(d), name="notamodel"), "config"),
        (lambda d, m: ArmSpec("http", "http://127.0.0.1:9/get_reward", name="down", timeout_s=0.5), "Connection"),
    ],
)
def test_load_failure_names_the_arm_and_the_cause(func_dir, tiny_reward_models, spec, cause):
    pool = RewardPool([*_length_arms(func_dir, (1.0,)), spec(func_dir, tiny_reward_models)])
    with pytest.raises(ArmLoadError, match=cause) as err:
        pool.load_all()
    assert err.value.arm == pool.arm_names[1] and repr(pool.arm_names[1]) in str(err.value)


def test_hf_arm_without_weights_fails_at_start(tmp_path, tiny_reward_models):
    import shutil

    broken = tmp_path / "rm_no_weights"
    shutil.copytree(tiny_reward_models[0], broken)
    for f in broken.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ArmLoadError, match="'rm_no_weights'.*no \\*.safetensors"):
        RewardPool(f"hf:{broken}").load_all()


def test_http_arm_timeout_retries_then_quarantine_and_fallback(func_dir, slow_server):
    url, state = slow_server
    state["delay"] = 1.0  # every request outlives the 0.2 s timeout
    specs = [ArmSpec("http", url, name="slow", timeout_s=0.2, retries=2), *_length_arms(func_dir, (1.0,))]
    pool = RewardPool(specs, normalize="none", max_consecutive_failures=1)
    pool.load_all()  # TCP probe succeeds: the server is up, only slow
    _, raw, used = pool.score(make_batch(3), np.zeros(3, dtype=int), return_arms=True)
    assert state["requests"] == 3  # 1 try + 2 retries
    assert (used == 1).all() and np.isfinite(raw).all()
    assert pool.quarantined() == {0} and pool.metrics()["pool/slow/failures"] == 1.0


def test_http_arm_retry_recovers_from_a_transient_error(slow_server):
    url, state = slow_server
    state["fail_first"] = 1  # HTTP 500 once, then fine
    pool = RewardPool([ArmSpec("http", url, name="flaky", retries=2)], normalize="none")
    pool.load_all()
    batch = make_batch(3)
    _, raw = pool.score(batch, np.zeros(3, dtype=int))
    np.testing.assert_allclose(raw, [len(q) for q in batch.queries])
    assert state["requests"] == 2 and pool.metrics()["pool/flaky/failures"] == 0.0


def test_residency_one_evicts_the_lru_arm_and_counts_switches(tiny_reward_models, tiny_tokenizer):
    rm_a, rm_b, _ = tiny_reward_models
    pool = RewardPool(f"hf:{rm_a},hf:{rm_b}", residency=1, policy_tokenizer=tiny_tokenizer)
    pool.load_all()
    assert not any(a.loaded for a in pool.arms)  # lazy: nothing loaded at start
    batch = make_batch(4)
    pool.score(batch, np.zeros(4, dtype=int))
    one_rm = pool.resident_param_bytes()
    assert one_rm > 0
    pool.score(batch, np.ones(4, dtype=int))
    a, b = pool.arms
    assert a.model is None and b.loaded  # CPU device: offload="auto" drops the LRU arm
    pool.score(batch, np.array([0, 1, 0, 1]))  # both arms in one call: still one resident at a time
    m = pool.metrics()
    assert m["pool/rm_a/evictions"] == 2.0 and m["pool/rm_a/loads"] == 2.0
    assert m["pool/switches"] == 3.0
    assert m["pool/peak_resident_param_bytes"] == one_rm  # never two RMs resident


def test_hf_forward_count_one_per_arm_group_and_text_path_matches_ids_path(tiny_reward_models, tiny_tokenizer):
    rm_a, rm_b, _ = tiny_reward_models
    pool = RewardPool(f"hf:{rm_a},hf:{rm_b}", residency=2, policy_tokenizer=tiny_tokenizer, normalize="none")
    pool.load_all(preload=True)
    forwards = [0, 0]
    for i, arm in enumerate(pool.arms):
        arm.model.register_forward_hook(lambda *a, i=i: forwards.__setitem__(i, forwards[i] + 1))
    batch = make_batch(6)
    _, raw_text = pool.score(batch, np.array([0, 1, 1, 0, 1, 0]))
    assert forwards == [1, 1]
    enc = tiny_tokenizer(batch.queries, add_special_tokens=False, padding=True, return_tensors="pt")
    batch.sequences, batch.attention_mask = enc["input_ids"], enc["attention_mask"]
    _, raw_ids = pool.score(batch, np.array([0, 1, 1, 0, 1, 0]))
    np.testing.assert_allclose(raw_ids, raw_text, rtol=0.02, atol=0.02)


def test_offload_to_host_keeps_weights(tiny_reward_models, tiny_tokenizer):
    rm_a, rm_b, _ = tiny_reward_models
    pool = RewardPool(f"hf:{rm_a},hf:{rm_b}", residency=1, offload="cpu", policy_tokenizer=tiny_tokenizer)
    pool.score(make_batch(2), np.array([0, 1]))
    assert all(a.loaded for a in pool.arms) and pool.metrics()["pool/rm_a/evictions"] == 1.0


@pytest.mark.gpu
def test_residency_offloads_to_cpu_on_a_gpu(tiny_reward_models, tiny_tokenizer):
    rm_a, rm_b, _ = tiny_reward_models
    pool = RewardPool(f"hf:{rm_a},hf:{rm_b}", residency=1, device="cuda", policy_tokenizer=tiny_tokenizer)
    pool.score(make_batch(2), np.array([0, 1]))
    a, b = pool.arms
    assert next(a.model.parameters()).device.type == "cpu" and next(b.model.parameters()).device.type == "cuda"
