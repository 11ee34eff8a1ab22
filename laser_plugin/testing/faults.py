"""TEST-ONLY fault injection: SIGKILL a run at a named point, and a fork runner that makes many
killed-and-resumed CLI runs cheap. Nothing in the plugin imports this module.

``LASER_FAULT_AT=point[@round]:n`` kills the process right after the n-th call of the point's real
function returns (counted in this process; ``@round``: only calls while that iterative-DPO round runs).
Points: ``sample`` (HF generation of a round), ``score`` (a bandit decision + the chosen arm's
scores), ``train`` (a DPO micro-batch's losses fed back), ``ckpt_ds`` (DeepSpeed's files of a
checkpoint written, nothing else yet), ``ckpt_bandit`` (the bandit state written). A process that is
the leader of its own session (a run started with ``start_new_session``, e.g. the PPO launcher and
its Ray cluster) is killed as a whole group, like a preempted node; otherwise only the process dies.

PPO/GRPO: Ray workers run ``install_from_env`` through ``LASER_WORKER_SETUP=laser_plugin.testing.faults:install_from_env``.
Iterative DPO: ``ForkRunner`` imports torch / DeepSpeed / OpenRLHF once and forks one child per run
(``laser-plugin``'s real ``main``), so each kill or resume costs the run, not ~10 s of imports.
"""
from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

ENV = "LASER_FAULT_AT"
POINTS: dict[str, tuple[str, str]] = {
    "sample": ("laser_plugin.adapters.openrlhf.dpo.loop", "hf_generate"),
    "score": ("laser_plugin.pool.bandit_pool", "BanditRewardPool.score"),
    "train": ("laser_plugin.adapters.openrlhf.dpo.loop", "IterativeDPO._on_rows"),
    "ckpt_ds": ("openrlhf.utils.deepspeed.deepspeed", "DeepspeedStrategy.save_ckpt"),
    "ckpt_bandit": ("laser_plugin.pool.bandit_pool", "BanditRewardPool.save"),
}
_round: list[Optional[int]] = [None]  # the iterative-DPO round running now (for point@round)


def die() -> None:
    """SIGKILL: no cleanup, no flush, no atexit, as a preemption or an OOM kill."""
    group = os.getpgrp()
    if group == os.getsid(0):  # our own session: the whole run (driver, Ray) goes down together
        os.killpg(group, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def parse(spec: str) -> tuple[str, Optional[int], int]:
    """``train@1:2`` -> ("train", 1, 2); ``score:3`` -> ("score", None, 3)."""
    where, _, count = spec.partition(":")
    point, _, rnd = where.partition("@")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{ENV}={spec!r}: expected POINT[@ROUND]:N with POINT in {sorted(POINTS)}")
    return point, (int(rnd) if rnd else None), int(count)


def _wrap(owner: Any, name: str, after: Callable[[], None]) -> None:
    real = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        after()
        return out

    wrapper.__wrapped__ = real  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def install(spec: str) -> None:
    """Arm one kill point in this process (the real function still runs first)."""
    point, rnd, count = parse(spec)
    module, attr = POINTS[point]
    owner: Any = importlib.import_module(module)
    *parents, name = attr.split(".")
    for part in parents:
        owner = getattr(owner, part)
    calls = [0]

    def after() -> None:
        if rnd is None or _round[0] == rnd:
            calls[0] += 1
            if calls[0] == count:
                print(f"[fault] SIGKILL after {point} call {count}" + (f" of round {rnd}" if rnd is not None else ""),
                      flush=True)
                die()

    _wrap(owner, name, after)
    if rnd is not None:  # track the round through the loop's own method
        from laser_plugin.adapters.openrlhf.dpo.loop import IterativeDPO

        real_round = IterativeDPO.run_round

        def run_round(self: Any, r: int, *args: Any, **kwargs: Any) -> Any:
            _round[0] = r
            try:
                return real_round(self, r, *args, **kwargs)
            finally:
                _round[0] = None

        IterativeDPO.run_round = run_round  # type: ignore[method-assign]


def install_from_env() -> None:
    """``LASER_FAULT_AT`` -> ``install`` (no-op when unset); Ray workers call it at start."""
    spec = os.environ.get(ENV)
    if spec:
        install(spec)


# ---------------------------------------------------------------------- fork runner
_PREIMPORT = ("torch", "transformers", "datasets", "deepspeed", "openrlhf.utils.deepspeed.deepspeed",
              "openrlhf.models", "openrlhf.trainer.dpo_trainer", "laser_plugin.cli",
              "laser_plugin.adapters.openrlhf.dpo.loop", "laser_plugin.pool.bandit_pool")


def serve() -> None:
    """Fork server loop (stdin: one JSON job per line; stdout: {"pid"} then {"rc"} per job)."""
    out = os.fdopen(os.dup(1), "w")  # the protocol keeps the pipe; anything imports print goes to stderr
    os.dup2(2, 1)
    for module in _PREIMPORT:
        importlib.import_module(module)
    for line in sys.stdin:
        job = json.loads(line)
        out.flush()
        pid = os.fork()
        if pid == 0:
            _child(job)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


def _child(job: dict) -> None:
    code = 1
    try:
        os.setsid()  # its own session: a kill takes this run (and what it started) down, nothing else
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(job.get("env") or {})
        if job.get("fault"):
            install(job["fault"])
        from laser_plugin.cli import main

        code = int(main(job["argv"]) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the log gets the traceback, the parent the exit code
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class ForkRunner:
    """Client of ``serve`` in a subprocess: ``run(argv, log, fault)`` -> the child's exit code
    (``-9``: killed by SIGKILL)."""

    def __init__(self, env: Optional[dict[str, str]] = None, cwd: Optional[str] = None) -> None:
        code = "from laser_plugin.testing.faults import serve; serve()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=cwd)

    def _read(self, timeout: float) -> dict:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError("fork runner: no answer")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fork runner exited with {self.proc.wait()}")
        return json.loads(line)

    def run(self, argv: Sequence[Any], log: Path, fault: Optional[str] = None,
            env: Optional[dict[str, str]] = None, timeout: float = 300.0) -> int:
        assert self.proc.stdin is not None
        job = {"argv": [str(a) for a in argv], "log": str(log), "fault": fault, "env": env or {}}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        pid = self._read(120.0)["pid"]  # the server imports first (~10 s of CPU)
        try:
            return int(self._read(timeout)["rc"])
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)  # our own child, by its id
            self._read(30.0)
            raise TimeoutError(f"run timed out after {timeout} s (log: {log})") from None

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "ForkRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["ENV", "POINTS", "ForkRunner", "die", "install", "install_from_env", "parse", "serve"]
