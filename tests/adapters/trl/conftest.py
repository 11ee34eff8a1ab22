from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture()
def counting_arm(tmp_path) -> tuple[dict, Path]:
    """A func: arm spec (mapping form) whose calls are logged to a file."""
    log = tmp_path / "func_calls.log"
    spec = {"kind": "func", "target": str(HERE / "counting_reward.py"), "name": "distinct",
            "func_kwargs": {"log_path": str(log)}}
    return spec, log
