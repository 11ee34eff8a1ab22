"""The quickstart's printed table, PNG plots and markdown report. Every number comes from the run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from laser_plugin.core.exploration import ABSTAINED
from laser_plugin.eval.metrics import format_table
from laser_plugin.quickstart.config import QuickstartConfig


def _domains(results: dict[str, Any]) -> list[str]:
    return [d for d in results["start_eval"] if d != "all"] + ["all"]


def arms_of(results: dict[str, Any]) -> list[str]:
    seen = {a for s in results["selectors"].values() for v in s["arm_share_by_domain"].values() for a in v}
    # "abstained": decisions on which no arm was believed better than chance (nothing trained)
    return [a for a in results["arms"] if a in seen] + [a for a in ("ensemble", ABSTAINED) if a in seen]


def _ci(eval_rows: list[dict[str, Any]] | None) -> str:
    """95% bootstrap interval over the held-out prompts of the mean over domains of gold."""
    from laser_plugin.demo.data import gold_values
    from laser_plugin.eval.metrics import bootstrap_ci

    if not eval_rows:
        return "-"
    lo, hi = bootstrap_ci({0: gold_values(eval_rows)})
    return f"[{lo:.3f}, {hi:.3f}]"


def tables(results: dict[str, Any]) -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    doms, arms = _domains(results), arms_of(results)
    head = ["selector"] + [f"gold:{d}" for d in doms] + ["95% CI (all)", "train s", "wall s", "RM calls", "RM scores"]
    rows: list[list[Any]] = [["(start policy)"] + [results["start_eval"].get(d) for d in doms]
                             + [_ci(results.get("start_eval_rows")), "-", "-", "-", "-"]]
    for sel, res in results["selectors"].items():
        name = sel if sel != "fixed" else f"fixed ({results['arms'][res['options']['arm']]})"
        rows.append([name] + [res["eval"].get(d) for d in doms] + [_ci(res.get("eval_rows"))]
                    + [f"{res['train_seconds']:.0f}", f"{res['wall_seconds']:.0f}", res["rm_calls"], res["rm_samples"]])
    share_head = ["selector", "domain"] + [f"share:{a}" for a in arms]
    share_rows = [[sel, d] + [res["arm_share_by_domain"].get(d, {}).get(a, 0.0) for a in arms]
                  for sel, res in results["selectors"].items() for d in doms if d in res["arm_share_by_domain"]]
    return head, rows, share_head, share_rows


def _md_table(head: list[str], rows: list[list[Any]]) -> str:
    fmt = lambda x: f"{x:.3f}" if isinstance(x, float) else str(x)  # noqa: E731
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(fmt(x) for x in r) + " |" for r in rows])


def plot_arm_choice(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sels = list(results["selectors"])
    doms = [d for d in _domains(results) if d != "all"]
    arms = arms_of(results)
    fig, axes = plt.subplots(len(sels), len(doms), figsize=(3.2 * len(doms), 2.2 * len(sels)), squeeze=False, sharey=True)
    colors = {a: plt.cm.tab10(i) for i, a in enumerate(arms)}
    for i, sel in enumerate(sels):
        rounds = results["selectors"][sel]["rounds"]
        for j, dom in enumerate(doms):
            ax, bottom = axes[i][j], [0.0] * len(rounds)
            for a in arms:
                vals = [r["arm_share_by_domain"].get(dom, {}).get(a, 0.0) for r in rounds]
                ax.bar([r["round"] for r in rounds], vals, bottom=bottom, color=colors[a], label=a)
                bottom = [b + v for b, v in zip(bottom, vals)]
            ax.set_title(f"{sel} | {dom}", fontsize=9)
            ax.set_xticks([r["round"] for r in rounds])
    axes[-1][0].set_xlabel("round")
    axes[0][0].set_ylabel("share of prompts")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[:len(arms)], labels[:len(arms)], loc="upper center", ncol=len(arms), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_rewards(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doms = _domains(results)
    fig, axes = plt.subplots(1, len(doms), figsize=(3.3 * len(doms), 3.0), squeeze=False)
    for j, dom in enumerate(doms):
        ax = axes[0][j]
        for sel, res in results["selectors"].items():
            xs = [r["round"] for r in res["rounds"]]
            line, = ax.plot(xs, [r["gold_samples"].get(dom, float("nan")) for r in res["rounds"]], marker="o", label=sel)
            # the held-out greedy evaluation after the last round, at x = rounds
            ax.plot([len(xs)], [res["eval"].get(dom, float("nan"))], marker="*", markersize=11, color=line.get_color())
        ax.plot([len(xs)], [results["start_eval"].get(dom, float("nan"))], marker="x", color="black", label="start (eval)")
        ax.set_title(dom, fontsize=10)
        ax.set_xlabel("round (last x: held-out eval)")
    axes[0][0].set_ylabel("gold score")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(cfg: QuickstartConfig, results: dict[str, Any]) -> Path:
    out = cfg.output_dir
    head, rows, share_head, share_rows = tables(results)
    print("\n[quickstart] gold score per domain on held-out prompts after training (higher is better), cost:")
    print(format_table(rows, head))
    print("\n[quickstart] arm-selection share per domain (share of prompts each arm scored, all rounds):")
    print(format_table(share_rows, share_head))
    plots = [plot_arm_choice(results, out / "arm_choice.png"), plot_rewards(results, out / "reward_curves.png")]
    if (out / "agreement.png").exists():
        plots.append(out / "agreement.png")
    c, arms = cfg, arms_of(results)
    md = ["# LASeR quickstart report\n",
          f"Policy `{results['model']}`; arms {', '.join(f'`{a}`' for a in results['arms'])}; {c.rounds} rounds x "
          f"{c.prompts_per_round} prompts x {c.n_samples} samples (max {c.max_new_tokens} new tokens), DPO lr {c.lr}, "
          f"beta {c.beta}, seed {c.seed}; bandit signal `{c.signal}` for the learning selectors; every selector "
          "starts from the same weights and optimizer state.\n",
          f"Total wall time {results['total_seconds']:.0f} s (setup {results['setup_seconds']:.0f} s).\n",
          "## Gold score per domain (held-out prompts, greedy) and cost\n",
          "Gold: math = reasoning-gym verifier, yes_no = correct yes/no, balanced (the mean of the yes prompts' and "
          "the no prompts' accuracy: one answer to every prompt scores 0.5), writing = positive (VADER >= 0.5), "
          "<= 30 words, on topic. `all` = mean over domains. RM calls = reward-arm invocations, RM scores = "
          "responses scored summed over arms (`score_mean` runs every arm on every response).\n", _md_table(head, rows) + "\n",
          "## Arm-selection share per domain\n"]
    if ABSTAINED in arms:
        md.append("`abstained`: prompts on which no arm was yet believed better than chance; their responses "
                  "were scored for the bandit's feedback only and trained nothing (`--reward_selector.explore_by`).\n")
    md += [_md_table(share_head, share_rows) + "\n",
          "## Arm-selection share per round and domain\n",
          _md_table(["selector", "round", "domain"] + arms,
                    [[s, r["round"], d] + [r["arm_share_by_domain"].get(d, {}).get(a, 0.0) for a in arms]
                     for s, res in results["selectors"].items() for r in res["rounds"]
                     for d in sorted(r["arm_share_by_domain"])]) + "\n",
          "## Gold score of the sampled responses per round\n",
          _md_table(["selector", "round"] + _domains(results),
                    [[s, r["round"]] + [r["gold_samples"].get(d) for d in _domains(results)]
                     for s, res in results["selectors"].items() for r in res["rounds"]]) + "\n",
          "## Plots\n"] + [f"![{p.stem}]({p.name})\n" for p in plots]
    if results.get("agreement"):
        md += ["## Arm agreement on round-0 samples (picks the `fixed` arm)\n", results["agreement"] + "\n"]
    md += ["## How it ran\n", "All selectors ran in one process with the flags of `laser-plugin iterative-dpo " +
           " ".join(results["argv"]) + "`, `--reward_selector` swapped per selector (for `fixed`: "
           "`--reward_selector.arm` = the arm above).\n"]
    path = out / "report.md"
    path.write_text("\n".join(md))
    print(f"\n[quickstart] report: {path}  plots: {', '.join(str(p) for p in plots)}")
    return path
