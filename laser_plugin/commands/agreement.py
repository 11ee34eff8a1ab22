"""``laser-plugin agreement``: pairwise preference agreement between reward arms on a dataset.

Input: a JSONL with one scored response per row: ``prompt`` (as the policy saw it), ``response``,
optional ``label`` and ``domain`` (a quickstart run's ``runs/SELECTOR/rounds/round_0/samples.jsonl``
needs ``--prompts`` to recover the prompt text). Responses to the same prompt form pairs; every arm
scores every response; output: the agreement matrix (markdown) and a heatmap PNG, and with ``--gold``
(the quickstart's domain criteria) each arm's accuracy against the gold per domain.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from laser_plugin.records import read_records


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("agreement", help="pairwise preference agreement between reward arms (table + heatmap)")
    p.add_argument("--data", required=True, help="JSONL rows with prompt, response (+ label, domain)")
    p.add_argument("--pool", default=None, help="--reward_pool spec (default: the quickstart demo arms)")
    p.add_argument("--prompts", default=None, help="JSONL of prompts when --data rows carry prompt_index instead of prompt")
    p.add_argument("--prompt-key", default="prompt")
    p.add_argument("--response-key", default="response")
    p.add_argument("--label-key", default="label")
    p.add_argument("--gold", action="store_true", help="also score against the quickstart's gold criteria per domain")
    p.add_argument("--output", default="agreement", help="writes OUTPUT.md and OUTPUT.png")
    p.set_defaults(func=func)


def _records(args: argparse.Namespace) -> list[dict]:
    rows = read_records(args.data)
    prompts = None
    if args.prompts:
        prompts = [r[args.prompt_key] for r in read_records(args.prompts)]
    out = []
    for r in rows:
        if args.prompt_key in r:
            prompt = r[args.prompt_key]
        elif prompts is not None and "prompt_index" in r:
            prompt = prompts[int(r["prompt_index"])]
        else:
            raise ValueError(f"row without {args.prompt_key!r} (give --prompts for rows with prompt_index)")
        if args.response_key not in r:
            raise ValueError(f"row without {args.response_key!r}: {sorted(r)}")
        out.append({"prompt": prompt, "response": r[args.response_key], "label": r.get(args.label_key),
                    "domain": str(r.get("domain", "all")), "group": r.get("prompt_index", prompt)})
    return out


def func(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from laser_plugin.demo.arms import default_pool
    from laser_plugin.quickstart.arm_agreement import agreement, heatmap

    gold = None
    if args.gold:
        from laser_plugin.demo.data import gold as gold_score

        gold = lambda r: gold_score(r["response"], r["label"], r["domain"])  # noqa: E731
    report = agreement(_records(args), args.pool or default_pool(), gold=gold)
    text = report.markdown()
    print(text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.md").write_text(text)
    png = heatmap(report, Path(f"{out}.png"))
    print(f"\nwrote {out}.md and {png}")
    return 0
