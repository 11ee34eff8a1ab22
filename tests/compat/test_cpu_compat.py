"""Proof (d): the compat layer touches nothing until applied, then neutralises the CUDA calls."""
import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_untouched_until_applied_then_patched():
    out = _run(
        """
        import torch
        if torch.cuda.is_available():
            print("cuda"); raise SystemExit
        originals = (torch.cuda.set_device, torch.cuda.current_device, torch.cuda.synchronize)
        import laser_plugin, laser_plugin.compat, laser_plugin.launch
        assert (torch.cuda.set_device, torch.cuda.current_device, torch.cuda.synchronize) == originals
        import torch.distributed.device_mesh as dm
        assert not getattr(dm.init_device_mesh, "_laser_cpu", False)
        try:
            torch.cuda.current_device()
            raise AssertionError("expected CUDA-less torch to raise")
        except (AssertionError, RuntimeError) as err:
            assert "expected" not in str(err)
        from laser_plugin.compat import apply_cpu_compat
        assert apply_cpu_compat() is True
        assert torch.cuda.current_device() == "cpu"
        torch.cuda.set_device(0); torch.cuda.synchronize(); torch.cuda.empty_cache()
        assert getattr(dm.init_device_mesh, "_laser_cpu", False)
        import os
        assert os.environ["WORLD_SIZE"] == "1" and os.environ["MASTER_ADDR"] == "127.0.0.1"
        print("ok")
        """
    )
    if out == "cuda":
        pytest.skip("CUDA present: the compat layer is a no-op by design")
    assert out == "ok"


def test_flash_attn_and_openrlhf_models_import_after_apply():
    out = _run(
        """
        from laser_plugin.compat import apply_cpu_compat
        apply_cpu_compat()
        from flash_attn.bert_padding import pad_input, unpad_input
        import openrlhf.models
        import openrlhf.utils.deepspeed.deepspeed as ds
        import torch.distributed.device_mesh as dm
        print(ds.init_device_mesh is dm.init_device_mesh)
        """
    )
    assert out.splitlines()[-1] == "True"


def test_single_process_jobs_keep_every_core_ray_workers_get_one_thread():
    # apply_cpu_compat once pinned the calling process to one BLAS thread, so iterative DPO and
    # best-of-N ran on one core of two; only Ray workers (their runtime env) should get one.
    out = _run(
        """
        import os
        os.environ.pop("OMP_NUM_THREADS", None)
        from laser_plugin.compat import apply_cpu_compat
        from laser_plugin.compat.ray_local import cpu_ray_runtime_env
        apply_cpu_compat()
        assert "OMP_NUM_THREADS" not in os.environ  # torch keeps its default: one thread per core
        print(cpu_ray_runtime_env()["env_vars"]["OMP_NUM_THREADS"])
        """
    )
    assert out == "1"


def test_master_port_is_chosen_again_per_run_unless_the_user_set_it(monkeypatch):
    # Two pytest-xdist workers once inherited ports picked minutes earlier and collided in
    # torch.distributed's store; a port this module chose is re-chosen on every call (every child).
    from laser_plugin.compat import cpu

    ports = iter(["41001", "41002", "41003"])
    monkeypatch.setattr(cpu, "_free_port", lambda: next(ports))
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.delenv(cpu._AUTO_PORT_ENV, raising=False)
    cpu.set_single_rank_env()
    assert os.environ["MASTER_PORT"] == "41001"
    cpu.set_single_rank_env()  # e.g. a forked or spawned child that inherited the auto port
    assert os.environ["MASTER_PORT"] == "41002"
    monkeypatch.setenv("MASTER_PORT", "29555")  # the user's own choice is kept
    cpu.set_single_rank_env()
    assert os.environ["MASTER_PORT"] == "29555"


def test_local_ray_starts_its_own_instance_even_when_another_cluster_is_recorded():
    """CI failure it prevents: a bare ray.init() joins the newest cluster `ray start` recorded on the host
    (here: another test's), then refuses num_cpus/num_gpus. The recorded address is injected (a dead port),
    the local Ray is real."""
    out = _run(
        """
        import os
        os.environ.pop("RAY_ADDRESS", None)
        import ray._private.services as services
        services.find_bootstrap_address = lambda temp_dir=None: "127.0.0.1:1"
        from laser_plugin.compat.ray_local import init_local_ray
        import ray
        init_local_ray(num_cpus=1, num_gpus=1)
        print(ray.cluster_resources().get("GPU"))
        ray.shutdown()
        """
    )
    assert out.splitlines()[-1] == "1.0"


def test_deepspeed_builds_no_shm_comm_op_on_cpu_and_still_initialises(tmp_path):
    """Nothing is mocked: DeepSpeed's own comm init on gloo, with an empty extension cache, must neither
    build nor load the shm op (an inference-only all-reduce) once the compat layer is applied."""
    out = _run(
        f"""
        import os
        os.environ["TORCH_EXTENSIONS_DIR"] = {str(tmp_path)!r}
        import torch
        if torch.cuda.is_available():
            print("cuda"); raise SystemExit
        from laser_plugin.compat import apply_cpu_compat
        apply_cpu_compat()
        import importlib
        import deepspeed
        ds_torch = importlib.import_module("deepspeed.comm.torch")  # `import a.b.torch as x` binds torch itself
        assert ds_torch.build_shm_op() is None
        deepspeed.init_distributed(dist_backend="gloo")
        assert ds_torch.build_shm_op() is None and deepspeed.comm.get_world_size() == 1
        print(sorted(os.listdir({str(tmp_path)!r})))
        """
    )
    if out == "cuda":
        pytest.skip("CUDA present: the compat layer is a no-op by design")
    assert out.splitlines()[-1] == "[]"  # nothing compiled
