"""BIG-bench ``hhh_alignment`` (helpful / honest / harmless / other) as preference pairs, read
straight from the ``bigbench`` PyPI source archive with tarfile (no install).

Each example has one preferred response (target score 1) and one or more others (0): every
(1, 0) combination becomes a pair; ``subset`` names its part. The files carry BIG-bench's canary
string: use them for evaluation / routing, never as language-model pretraining text.

    python -m laser_plugin.router.hhh bigbench-1.0.0.tar.gz hhh_pairs.jsonl
"""
from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

SUBSETS = ("harmless", "helpful", "honest", "other")


def extract_hhh(archive: str | Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name.split("benchmark_tasks/hhh_alignment/")[-1]: m for m in tar.getmembers()
                   if "benchmark_tasks/hhh_alignment/" in m.name and m.name.endswith("/task.json")}
        for subset in SUBSETS:
            member = members.get(f"{subset}/task.json")
            if member is None:
                raise ValueError(f"{archive} has no hhh_alignment/{subset}/task.json (is it the bigbench sdist?)")
            task = json.load(tar.extractfile(member))
            for ex in task["examples"]:
                good = [t for t, s in ex["target_scores"].items() if s == 1]
                bad = [t for t, s in ex["target_scores"].items() if s == 0]
                rows += [{"prompt": ex["input"], "chosen": g, "rejected": b, "subset": subset}
                         for g in good for b in bad]
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    rows = extract_hhh(argv[0])
    Path(argv[1]).write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    print(f"{len(rows)} pairs -> {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
