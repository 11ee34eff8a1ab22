"""Round checkpoints of iterative DPO and resuming from them (the loop's ``RoundCheckpoints`` part).

A round's checkpoint is DeepSpeed's state (upstream's ``save_ckpt``, with ``latest`` held back) plus
the bandit state; ``latest`` moves only once both exist (``_commit``), so a crash leaves it on a
complete round. ``--ckpt.load_enable`` resumes after the newest complete round, ``--laser.resume_round
R`` after round R (see ``adapters/openrlhf/checkpoints.py`` for the choice).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from laser_plugin.adapters.openrlhf.checkpoints import has_model_states, newest_complete, write_latest

# The bandit state of a round checkpoint and of a finished run (safetensors). Earlier commits
# wrote the same safetensors content as laser_bandit.npz: still found, so their checkpoints resume.
BANDIT_FILE = "laser_bandit.safetensors"
_EARLIER_BANDIT_FILE = "laser_bandit.npz"


def bandit_file(directory: Path) -> Optional[Path]:
    """The bandit state file in ``directory`` (the earlier name where only it exists), or None."""
    for name in (BANDIT_FILE, _EARLIER_BANDIT_FILE):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    return None


class RoundCheckpoints:
    """Checkpoint and resume methods of ``IterativeDPO`` (they use its args, loop config, strategy,
    model, trainer, bandit, rank sync, history, output dir and vLLM engines)."""

    def _round_missing(self, tag_dir: Path) -> Optional[str]:
        """Why round checkpoint ``tag_dir`` cannot be resumed from (None: it has every file)."""
        if bandit_file(tag_dir) is None:
            return f"no {BANDIT_FILE} (bandit state never written)"
        if not has_model_states(tag_dir):
            return "no DeepSpeed model states"
        return None

    def _resume(self) -> int:
        """Round to start at. ``--laser.resume_round R``: after round R (it must be complete);
        ``--ckpt.load_enable``: after the newest COMPLETE round checkpoint (see ``checkpoints``)."""
        args, root = self.args, Path(self.args.ckpt.path)
        if self.loop.resume_round >= 0:
            tag = f"round_{self.loop.resume_round}"
            if not (root / tag).is_dir():
                raise FileNotFoundError(f"no round checkpoint {root / tag}")
            why = self._round_missing(root / tag)
            if why:
                raise FileNotFoundError(f"round checkpoint {root / tag} is incomplete: {why}")
        elif args.ckpt.load_enable:
            # rank 0 decides, every rank loads the same tag
            pick = self.sync.broadcast(newest_complete(root, "round_", self._round_missing) if self.sync.is_main else None)
            if pick.tag is None and not pick.skipped and pick.latest is None:
                return 0  # nothing saved yet: a fresh start, nothing to report
            self.strategy.print(f"[laser] {pick.describe()}")
            if pick.tag is None:
                return 0
            tag = pick.tag
        else:
            return 0
        _, states = self.strategy.load_ckpt(self.model.model, args.ckpt.path, tag=tag)
        self.trainer.step_offset = int(states.get("step_offset", 0))
        if self.sync.is_main:
            self.bandit.load(bandit_file(root / tag))
        self.sync.sync_state(self.bandit)
        done = int(states["laser_round"])
        for r in range(done + 1):
            summary = self.out_dir / "rounds" / f"round_{r}" / "summary.json"
            if summary.exists():
                self.history.append(json.loads(summary.read_text()))
        self.strategy.print(f"[laser] resumed after round {done} from {root / tag}")
        if self.vllm is not None:  # the engines were built from the starting model: sample from the resumed one
            hf_dir = str(self.out_dir / "rounds" / f"round_{done}" / "hf")
            self.strategy.save_model(self.model, self.tokenizer, hf_dir)
            self.vllm.refresh(hf_dir)
        return done + 1

    def _checkpoint(self, r: int) -> None:
        """Write round ``r``'s files; ``latest`` moves only in ``_commit`` once they all exist, so a
        crash at any point leaves ``latest`` on a complete round (ordering, not a lock)."""
        a, tag = self.args, f"round_{r}"
        if not a.ckpt.disable_ds:  # --ckpt.disable_ds (upstream's flag): no DeepSpeed state, no resume
            # DeepSpeed's own `latest` would move before the bandit state exists: we write it in _commit
            self.strategy.save_ckpt(self.model.model, a.ckpt.path, tag, a.ckpt.max_num, a.ckpt.max_mem,
                                    {"laser_round": r, "step_offset": self.trainer.step_offset}, save_latest=False)
        if self.sync.is_main:
            (Path(a.ckpt.path) / tag).mkdir(parents=True, exist_ok=True)
            self.bandit.save(Path(a.ckpt.path) / tag / BANDIT_FILE)  # atomic (temporary name + rename)
        if a.ckpt.save_hf:
            self.strategy.save_model(self.model, self.tokenizer, os.path.join(a.ckpt.path, f"{tag}_hf"))

    def _commit(self, r: int) -> None:
        """The last write of round ``r``: after its DeepSpeed files (save_ckpt ends in a barrier over
        ranks), bandit state and summary, ``latest`` names it (atomic rename)."""
        if self.sync.is_main and not self.args.ckpt.disable_ds:
            write_latest(self.args.ckpt.path, f"round_{r}")


__all__ = ["BANDIT_FILE", "RoundCheckpoints", "bandit_file"]
