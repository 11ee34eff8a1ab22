"""Pool fixtures: reward_func files, a real serve_rm subprocess, a bounded slow HTTP server."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROMPTS = ["What is 12 plus 7?", "Is the sky blue?", "Can fish fly?", "Compute 3 times 4.",
           "Tell me a story about a kind robot.", "Write a happy sentence about the sea."]
RESPONSES = ["The answer is 19.", "Yes, on a clear day.", "No.", "The result is 12.",
             "A kind robot helps people every day and night.", "The sea is calm and bright today."]
LABELS = ["19", "yes", "no", "12", "robot", "sea"]

# reward_func files in OpenRLHF's format (the ones users pass as --reward.remote_url file.py)
VERIFIER = '''
import torch
def reward_func(queries, prompts, labels, **kw):
    """1 when the label appears in the response part of the query, else 0."""
    r = [1.0 if str(l).lower() in q[len(p):].lower() else 0.0 for q, p, l in zip(queries, prompts, labels)]
    return {"rewards": torch.tensor(r), "scores": torch.tensor(r), "extra_logs": {"hits": torch.tensor(r)}}
'''
LENGTH = '''
def reward_func(queries, prompts, labels, factor=1.0, **kw):
    """len(query) * factor, as a plain list: rows are identifiable after grouped dispatch."""
    return [len(q) * factor for q in queries]
'''
NAN_AFTER = '''
import math
CALLS = [0]
def reward_func(queries, prompts, labels, good_calls=0, **kw):
    CALLS[0] += 1
    return [float("nan") if CALLS[0] > good_calls else 0.5 for _ in queries]
'''
NO_FUNC = "def not_reward_func(q, p, l):\n    return [0.0] * len(q)\n"


def make_batch(n: int = 6, group_size: int = 1):
    from laser_plugin.pool import ScoringBatch

    idx = [i % len(PROMPTS) for i in range(n)]
    prompts = [PROMPTS[i] for i in idx]
    responses = [RESPONSES[i] for i in idx]
    return ScoringBatch(
        queries=[p + " " + r for p, r in zip(prompts, responses)], prompts=prompts, responses=responses,
        labels=[LABELS[i] for i in idx], group_ids=[i // group_size for i in range(n)],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def func_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("funcs")
    for name, text in {"verifier": VERIFIER, "length": LENGTH, "nan_after": NAN_AFTER, "no_func": NO_FUNC}.items():
        (d / f"{name}.py").write_text(text)
    (d / "broken.py").write_text("def reward_func(:\n")
    return d


class _SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server naming
        state = self.server.state  # type: ignore[attr-defined]
        state["requests"] += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(min(state["delay"], 2.0))  # bounded: the server never hangs a test
        if state["fail_first"] > 0:
            state["fail_first"] -= 1
            self.send_response(500)
            self.end_headers()
            return
        data = json.dumps({"rewards": [float(len(q)) for q in body["query"]]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    """A local /get_reward server whose delay and failures the test sets (state dict)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _SlowHandler)
    server.daemon_threads = True
    server.state = {"requests": 0, "delay": 0.0, "fail_first": 0}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/get_reward", server.state  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def serve_rm_url(tiny_reward_models, tmp_path_factory):
    """The real ``openrlhf.cli.serve_rm`` serving rm_a on 127.0.0.1 (CPU shims via laser_plugin.launch)."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve_rm") / "serve_rm.log"
    cmd = [sys.executable, "-m", "laser_plugin.launch", "openrlhf.cli.serve_rm",
           "--reward.model_name_or_path", str(tiny_reward_models[0]), "--host", "127.0.0.1", "--port", str(port),
           "--ds.attn_implementation", "sdpa", "--data.max_len", "256"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve_rm exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"serve_rm did not listen within 180 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/get_reward"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
