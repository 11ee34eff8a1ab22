"""Which checkpoint a resume trusts, on real directory layouts (fast; no model is trained here).

The layouts are the ones a crash leaves: a tag newer than ``latest`` (the run died writing it), a
tag ``latest`` names without its bandit state (written by the old code, which let DeepSpeed move
``latest`` first: the issue's report), no ``latest`` at all, an empty ``latest`` (DeepSpeed died in
its own non-atomic write of it), a torn decision-log line.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from laser_plugin.adapters.openrlhf.checkpoints import newest_complete, read_latest, truncate_jsonl, write_latest
from laser_plugin.core.state_io import atomic_write_text, load_state, save_state


def _round(root: Path, r: int, bandit: bool = True, ds: bool = True) -> None:
    d = root / f"round_{r}"
    d.mkdir(parents=True)
    if ds:
        (d / "mp_rank_00_model_states.pt").write_bytes(b"x")
    if bandit:
        (d / "laser_bandit.safetensors").write_bytes(b"x")


def _missing(tag_dir: Path):
    if not (tag_dir / "laser_bandit.safetensors").is_file():
        return "no laser_bandit.safetensors"
    return None if (tag_dir / "mp_rank_00_model_states.pt").is_file() else "no DeepSpeed model states"


def test_latest_on_a_round_without_bandit_state_falls_back_and_says_why(tmp_path):
    for r in (0, 1):
        _round(tmp_path, r)
    _round(tmp_path, 2, bandit=False)  # the issue: `latest` says round_2, no laser_bandit.safetensors
    write_latest(tmp_path, "round_2")
    pick = newest_complete(tmp_path, "round_", _missing)
    assert (pick.tag, pick.step, pick.latest) == ("round_1", 1, "round_2")
    assert pick.skipped == [("round_2", "no laser_bandit.safetensors")]
    text = pick.describe()
    assert "resuming from round_1" in text and "`latest` said round_2" in text and "skipped round_2" in text


def test_tags_newer_than_latest_are_never_used(tmp_path):
    for r in (0, 1, 2):
        _round(tmp_path, r)  # round_2 has every file, but `latest` never moved to it
    write_latest(tmp_path, "round_1")
    pick = newest_complete(tmp_path, "round_", _missing)
    assert pick.tag == "round_1" and pick.skipped[0][0] == "round_2" and "newer than" in pick.skipped[0][1]


def test_no_latest_means_nothing_was_committed(tmp_path):
    _round(tmp_path, 0)
    pick = newest_complete(tmp_path, "round_", _missing)
    assert pick.tag is None and "no `latest` file" in pick.skipped[0][1]
    assert "starting from the beginning" in pick.describe()
    empty = newest_complete(tmp_path / "absent", "round_", _missing)
    assert empty.tag is None and empty.skipped == [] and empty.latest is None


def test_empty_latest_bounds_nothing_and_a_vanished_tag_is_reported(tmp_path):
    for r in (3, 4):
        _round(tmp_path, r)
    (tmp_path / "latest").write_text("")  # DeepSpeed died inside its open('w') + write of `latest`
    assert read_latest(tmp_path) == "" and newest_complete(tmp_path, "round_", _missing).tag == "round_4"
    write_latest(tmp_path, "round_9")  # deleted by hand (or rotated away)
    pick = newest_complete(tmp_path, "round_", _missing)
    assert pick.tag == "round_4" and pick.skipped == [("round_9", "named by `latest` but its folder is gone")]


def test_global_step_tags_sort_numerically(tmp_path):
    for step in (2, 10, 9):
        d = tmp_path / f"global_step{step}"
        d.mkdir()
        (d / "laser_bandit.safetensors").write_bytes(b"x")
        (d / "mp_rank_00_model_states.pt").write_bytes(b"x")
    write_latest(tmp_path, "global_step10")
    assert newest_complete(tmp_path, "global_step", _missing).tag == "global_step10"


def test_decision_log_truncation_drops_later_steps_and_a_torn_line(tmp_path):
    log = tmp_path / "decisions.jsonl"
    rows = [{"global_step": s, "decision": i} for i, s in enumerate([1, 1, 2, 2, 3])]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"global_step": 3, "deci')  # killed mid-line
    assert truncate_jsonl(log, lambda r: r["global_step"] <= 2) == (4, 2)
    assert [json.loads(x) for x in log.read_text().splitlines()] == rows[:4]
    assert truncate_jsonl(log, lambda r: r["global_step"] <= 2) == (4, 0)  # idempotent
    assert truncate_jsonl(tmp_path / "none.jsonl", lambda r: True) == (0, 0)


def test_atomic_writes_leave_no_temporary_and_keep_the_old_file_on_failure(tmp_path):
    path = tmp_path / "state.safetensors"
    save_state(path, {"a": np.arange(3)})
    with pytest.raises(Exception, match="dtype"):
        save_state(path, {"a": np.array([object()])})  # refused by the serializer: nothing replaced
    assert np.array_equal(load_state(path)["a"], np.arange(3))  # the complete old state survives
    atomic_write_text(tmp_path / "latest", "round_1")
    assert sorted(os.listdir(tmp_path)) == ["latest", "state.safetensors"]


def test_ppo_resume_points_latest_at_the_newest_complete_step(tmp_path, monkeypatch):
    """The trainer-side choice for train_ppo_ray: `_actor/latest` names a step whose bandit state is
    missing (old plugin layout): `latest` is moved back to the newest complete step before the
    actors load it; a bandit state saved for a step DeepSpeed never wrote is reported."""
    from laser_plugin.adapters.openrlhf.ppo.trainer_hooks import choose_resume_checkpoint

    ckpt = tmp_path / "ckpt"
    states = ckpt / "laser_bandit"
    states.mkdir(parents=True)
    for step in (1, 2):
        d = ckpt / "_actor" / f"global_step{step}"
        d.mkdir(parents=True)
        (d / "mp_rank_00_model_states.pt").write_bytes(b"x")
    (states / "global_step1.safetensors").write_bytes(b"x")
    (states / "global_step3.safetensors").write_bytes(b"x")  # saved first, then the run died
    write_latest(ckpt / "_actor", "global_step2")
    args = SimpleNamespace(ckpt=SimpleNamespace(path=str(ckpt), load_enable=True))
    choose = lambda: choose_resume_checkpoint(args, lambda s: str(states / f"global_step{s}.safetensors"), str(states))  # noqa: E731
    pick = choose()
    assert pick.tag == "global_step1" and read_latest(ckpt / "_actor") == "global_step1"
    assert dict(pick.skipped) == {"global_step2": f"no bandit state {states / 'global_step2.safetensors'}",
                                  "global_step3": "bandit state saved, DeepSpeed checkpoint never written"}
    # nothing complete: `latest` is moved aside, upstream starts at step 0
    (states / "global_step1.safetensors").unlink()
    assert choose().tag is None
    assert not (ckpt / "_actor" / "latest").exists() and (ckpt / "_actor" / "latest.incomplete").exists()


def test_a_round_saved_under_the_earlier_bandit_file_name_still_resumes(tmp_path):
    """Earlier commits wrote the (safetensors) bandit state as laser_bandit.npz: found, new name first."""
    from laser_plugin.adapters.openrlhf.dpo.resume import BANDIT_FILE, bandit_file

    assert bandit_file(tmp_path) is None
    (tmp_path / "laser_bandit.npz").write_bytes(b"x")
    assert bandit_file(tmp_path) == tmp_path / "laser_bandit.npz"
    (tmp_path / BANDIT_FILE).write_bytes(b"x")
    assert bandit_file(tmp_path) == tmp_path / "laser_bandit.safetensors"
