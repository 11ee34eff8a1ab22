"""Which checkpoint a resume may trust: the newest COMPLETE one, with the reasons others were skipped.

DeepSpeed writes a checkpoint's files into ``<dir>/<tag>/`` and only then the ``<dir>/latest`` file
naming the tag. The plugin keeps that order for everything it adds (the bandit state is written,
atomically, before ``latest`` moves), so after a crash:

* tags newer than ``latest`` may be half written (the run died while writing them): never used;
* ``latest`` and older tags are complete unless a file is missing (a checkpoint from a plugin
  version that wrote the bandit state after ``latest``, or a file deleted by hand): the next
  older complete one is used instead;
* an empty ``latest`` (the run died inside DeepSpeed's own, non-atomic write of it) bounds nothing:
  DeepSpeed writes it after every file of the newest tag.

Plain filesystem code (no OpenRLHF import), shared by the iterative-DPO loop and the PPO hooks.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

from laser_plugin.core.state_io import atomic_write_text

# missing(tag_dir) -> None when the checkpoint has every file, else why not (a short phrase)
Check = Callable[[Path], Optional[str]]


def tag_step(tag: str, prefix: str) -> Optional[int]:
    """``round_3`` -> 3, ``global_step12`` -> 12 for the matching prefix; None otherwise."""
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", tag)
    return int(m.group(1)) if m else None


def read_latest(root: Union[str, Path]) -> Optional[str]:
    """The text of ``root/latest``: None when the file does not exist, "" when it is empty."""
    path = Path(root) / "latest"
    try:
        return path.read_text().strip()
    except (FileNotFoundError, IsADirectoryError):
        return None
    except UnicodeDecodeError:
        return ""


def write_latest(root: Union[str, Path], tag: str) -> None:
    """Point ``root/latest`` at ``tag`` atomically: the last write of a checkpoint."""
    atomic_write_text(Path(root) / "latest", tag)


def has_model_states(tag_dir: Path) -> bool:
    """DeepSpeed's model states (``mp_rank_00_model_states.pt``; ZeRO-3: ``zero_pp_rank_*``)."""
    return any(tag_dir.glob("*model_states.pt"))


@dataclass
class Pick:
    """The checkpoint to resume from (``tag`` None: none is complete) and the skipped ones."""

    root: Path
    tag: Optional[str]
    latest: Optional[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    step: Optional[int] = None  # the tag's round / global step

    def describe(self) -> str:
        where = f"{self.root}"
        head = (f"resuming from {self.tag}, the newest complete checkpoint under {where}" if self.tag
                else f"no complete checkpoint under {where}; starting from the beginning")
        if self.latest and self.latest != self.tag:
            head += f" (`latest` said {self.latest})"
        return "; ".join([head] + [f"skipped {tag}: {why}" for tag, why in self.skipped])


def newest_complete(root: Union[str, Path], prefix: str, missing: Check) -> Pick:
    """Newest ``<prefix><N>`` tag under ``root`` that is not newer than ``latest`` and has every file."""
    root = Path(root)
    latest = read_latest(root)
    tags = sorted(((tag_step(p.name, prefix), p.name) for p in root.iterdir() if p.is_dir()
                   and tag_step(p.name, prefix) is not None), reverse=True) if root.is_dir() else []
    # no `latest` file: nothing was ever committed; an empty one: DeepSpeed died writing it, after
    # every file of the newest tag, so it bounds nothing; a tag: nothing newer is trusted
    bound = -1 if latest is None else tag_step(latest, prefix) if latest else None
    pick = Pick(root, None, latest or None)
    if latest and latest not in {t for _, t in tags}:
        pick.skipped.append((latest, "named by `latest` but its folder is gone"))
    for step, tag in tags:
        if bound is not None and step > bound:
            said = f"`latest` says {latest}" if latest else "no `latest` file: no checkpoint was committed"
            pick.skipped.append((tag, f"newer than the last committed checkpoint ({said}): the run died "
                                      "while writing it"))
            continue
        why = missing(root / tag)
        if why:
            pick.skipped.append((tag, why))
            continue
        pick.tag, pick.step = tag, step
        break
    return pick


def truncate_jsonl(path: Union[str, Path], keep: Callable[[dict], bool]) -> tuple[int, int]:
    """Rewrite a JSONL log atomically with the rows ``keep`` accepts (a torn last line is dropped).
    Returns (kept, dropped); a missing file is (0, 0)."""
    path = Path(path)
    if not path.is_file():
        return 0, 0
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # the run died mid-line
            dropped += 1
            continue
        if keep(row):
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    return len(kept), dropped


__all__ = ["Pick", "has_model_states", "newest_complete", "read_latest", "tag_step", "truncate_jsonl",
           "write_latest"]
