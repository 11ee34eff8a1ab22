"""Selection-core regret: every bandit selector on a synthetic multi-domain reward-model pool.

The environment (one instance per seed; the quality table below is fixed, the geometry is random):

  contexts   4 domains with traffic shares chat 0.5, math / code / safety 1/6 each. A context is
             x = [z / ||z||, 1] (unit features plus a bias, like ``ContextFeaturizer``), with
             z = c_m + s_m g / sqrt(d - 1): c_m orthonormal domain centroids, g ~ N(0, I). Chat is a
             tight, easy-to-fit cluster (s = 0.05), the other domains are broad (s = 0.35).
  arms       6 reward models; arm k's expected reward is LINEAR in the context,
             mu_k(x) = clip(theta_k . x, 0.01, 0.99), with theta_k built so that its mean over domain m
             is Q[k, m] (table below), plus a random within-domain direction (so the context matters
             inside a domain too). Observed reward ~ Beta(mu kappa_k, (1 - mu) kappa_k): in [0, 1],
             mean exactly mu, noise set by kappa_k.
               0 generalist          0.60 everywhere
               1 math RM             best on math
               2 code RM             best on code
               3 safety RM           best on safety
               4 length-biased RM    THE MISLEADING ARM: 0.97 on chat, where its preferences (longer,
                                     friendlier answers) are exactly what the policy fits fastest,
                                     but 0.30-0.35 on math/code/safety, where it prefers long wrong
                                     answers - below every other arm. Chat is half the traffic, so it
                                     has the highest AVERAGE reward of all arms: the "best single RM"
                                     in hindsight, and where context-free methods settle.
               5 big noisy RM        good-but-not-best everywhere, very noisy (kappa 1.5: std ~0.3)
  drift      variant where at T/2 the best arm of EVERY domain changes (the specialists rotate
             domains, the generalist becomes best on chat, the length-biased arm loses chat).

Regret: pseudo-regret, sum_t max_k mu_k(x_t) - mu_{a_t}(x_t) with the true expected rewards.
Feedback: the raw Beta rewards in [0, 1] (default), or LASeR's quantile rescaling
(``make_signal_norm("quantile")``) with --feedback quantile. One context per step, T = 5000.
Ensembles (score_mean, agreement, min, mean_minus_var) use every arm on every step: no bandit
regret; they are listed as "uses all arms" (K times the scoring cost).

Selectors: random, fixed (the best single arm in hindsight: the arm with the highest average
reward), round_robin, eps_greedy, ucb1, exp3 (core defaults); laser (LinUCB), laser with discount
0.99, thompson cold start (zero prior mean), thompson with an informative prior (offline ridge
estimate, and the true theta), thompson with discount 0.99 (drift only, if the core has the
option), and laser with alpha = 0.1 (the released LASeR code's value) for reference.
laser and thompson also get the core's default forgetting (a window of the last 1000 decisions)
unless a row sets a discount. Hyperparameters were tuned with --tune on seeds 1000-1002 (other
environment instances), never on the test seeds 0-4; --tune re-runs that search and then evaluates with its result. They were tuned
for the raw feedback: with --feedback quantile, add --tune.

Targets (issue):
  * laser and thompson: regret at T <= 15% of random's;
  * thompson with a correct informative prior (the true theta_k, and the offline ridge estimate from
    held-out uniformly logged data): regret over the first 500 steps <= 50% of its cold start's;
  * laser with discount (0.99): recovers within 500 steps of the drift. "Recovers" = the mean
    per-step regret over a trailing 100-step window (all after the drift) falls to <= 2x its
    pre-drift level (mean per-step regret over the 500 steps before the drift; floor 0.01) and stays
    there for the next 100 steps; the number of steps from the drift to the end of that window.

    python benchmarks/bench_selector_regret.py [--seeds 0 1 2 3 4] [--T 5000] [--feedback raw|quantile]
                                               [--tune] [--quick] [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from laser_plugin import make_selector  # noqa: E402
from laser_plugin.core.signal_norm import make_signal_norm  # noqa: E402
from laser_plugin.core.registry import selector_class  # noqa: E402

DOMAINS = ("chat", "math", "code", "safety")
SHARES = np.array([0.5, 1 / 6, 1 / 6, 1 / 6])
SPREAD = np.array([0.05, 0.35, 0.35, 0.35])
ARMS = ("generalist", "math_rm", "code_rm", "safety_rm", "length_biased", "big_noisy")
KAPPA = np.array([30.0, 30.0, 30.0, 30.0, 30.0, 1.5])
Q_BEFORE = np.array([  # chat, math, code, safety
    [0.60, 0.60, 0.60, 0.60],
    [0.45, 0.88, 0.50, 0.40],
    [0.45, 0.50, 0.85, 0.40],
    [0.55, 0.35, 0.35, 0.82],
    [0.97, 0.30, 0.30, 0.35],
    [0.55, 0.70, 0.70, 0.66],
])
Q_AFTER = np.array([  # after the drift: every domain's best arm changes
    [0.80, 0.60, 0.60, 0.60],
    [0.45, 0.50, 0.40, 0.88],
    [0.45, 0.85, 0.50, 0.40],
    [0.55, 0.35, 0.82, 0.35],
    [0.50, 0.30, 0.30, 0.35],
    [0.55, 0.70, 0.70, 0.66],
])
DIM = 16
WITHIN = 1.0  # norm of the within-domain direction of each arm

# Hyperparameters found by --tune on seeds 1000-1002 (see TUNE_GRID); baselines keep core defaults.
HYPER = {
    "laser": {"alpha": 0.75},
    # retuned (same grid and seeds) when the discount stopped decaying the ridge (issue 16): 0.25 had leant on
    # the old sawtooth's inflated widths and now locks onto one arm (1562 vs 336 at 0.5 on the tuning seeds)
    "laser_discount": {"alpha": 0.5, "discount": 0.99},
    "thompson": {"noise": 0.05, "exploration": 0.5},
    "thompson_prior": {"prior_strength": 1000.0},
}
TUNE_GRID = {
    "laser": [{"alpha": a} for a in (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)],
    "laser_discount": [{"alpha": a, "discount": 0.99} for a in (0.1, 0.25, 0.5, 0.75, 1.0)],
    "thompson": [{"noise": s, "exploration": v} for s in (0.05, 0.1, 0.2, 0.35, 0.5) for v in (0.25, 0.5, 1.0)],
    "thompson_prior": [{"prior_strength": p} for p in (1.0, 10.0, 50.0, 200.0, 1000.0, 5000.0)],
}
TUNE_SEEDS = (1000, 1001, 1002)
ENSEMBLES = ("score_mean", "agreement", "min", "mean_minus_var")


class Env:
    """One random instance of the pool: centroids, arm parameters, context and reward draws."""

    def __init__(self, seed: int, drift: bool, T: int, dim: int = DIM) -> None:
        rng = np.random.default_rng([seed, 7])
        self.dim, self.T, self.drift = dim, T, drift
        m = len(DOMAINS)
        basis, _ = np.linalg.qr(rng.standard_normal((dim - 1, dim - 1)))
        self.centroids = basis[:, :m].T  # [M, d-1], orthonormal
        # rho_m = E[z . c_m] for contexts of domain m (Monte Carlo, so domain means hit Q exactly)
        probe = np.random.default_rng([seed, 8])
        self.rho = np.array([self._features(np.full(20000, k), probe)[:, :-1] @ self.centroids[k]
                             for k in range(m)]).mean(axis=1)
        off = np.eye(dim - 1) - self.centroids.T @ self.centroids  # directions no centroid uses
        self.theta_before = self._thetas(Q_BEFORE, rng, off)
        self.theta_after = self._thetas(Q_AFTER, rng, off) if drift else self.theta_before
        self.rng = np.random.default_rng([seed, 9])

    def _features(self, domains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        g = rng.standard_normal((len(domains), self.dim - 1))
        z = self.centroids[domains] + SPREAD[domains, None] * g / np.sqrt(self.dim - 1)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        return np.concatenate([z, np.ones((len(domains), 1))], axis=1)

    def _thetas(self, q: np.ndarray, rng: np.random.Generator, off: np.ndarray) -> np.ndarray:
        base = q.mean(axis=1)
        a = (q - base[:, None]) / self.rho[None, :]  # [K, M]
        v = rng.standard_normal((len(q), self.dim - 1)) @ off
        v *= WITHIN / np.linalg.norm(v, axis=1, keepdims=True)
        return np.concatenate([a @ self.centroids + v, base[:, None]], axis=1)  # [K, d]

    def contexts(self, n: int, rng: np.random.Generator = None) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng if rng is None else rng
        domains = rng.choice(len(DOMAINS), size=n, p=SHARES)
        return self._features(domains, rng), domains

    def means(self, x: np.ndarray, t: int) -> np.ndarray:
        theta = self.theta_after if (self.drift and t >= self.T // 2) else self.theta_before
        return np.clip(x @ theta.T, 0.01, 0.99)

    def reward(self, mu: np.ndarray, arm: np.ndarray, rng: np.random.Generator = None) -> np.ndarray:
        rng = self.rng if rng is None else rng
        kap = KAPPA[arm]
        return rng.beta(mu * kap, (1 - mu) * kap)

    def describe(self) -> dict:
        """Realised per-domain means and best arms, and how often the clip binds (sanity)."""
        rng = np.random.default_rng(123)
        x, dom = self.contexts(20000, rng)
        out = {}
        for name, theta in (("before", self.theta_before), ("after", self.theta_after)):
            raw = x @ theta.T
            mu = np.clip(raw, 0.01, 0.99)
            per = np.array([mu[dom == m].mean(axis=0) for m in range(len(DOMAINS))])  # [M, K]
            best_designed = per.argmax(axis=1)[dom]
            out[name] = {"domain_means": per.round(3).tolist(), "best_arm_per_domain": per.argmax(axis=1).tolist(),
                         "share_of_contexts_whose_best_arm_differs_from_their_domain_best":
                             float((mu.argmax(axis=1) != best_designed).mean()),
                         "clip_fraction": float(((raw < 0.01) | (raw > 0.99)).mean()),
                         "marginal_means": mu.mean(axis=0).round(3).tolist()}
            if not self.drift:
                break
        return out


def offline_prior(env: Env, seed: int, n_per_arm: int = 100, ridge: float = 1.0) -> np.ndarray:
    """Held-out uniformly logged data (other contexts and rewards than the run): ridge per arm."""
    rng = np.random.default_rng([seed, 11])
    k = len(ARMS)
    x, _ = env.contexts(n_per_arm * k, rng)
    arms = np.repeat(np.arange(k), n_per_arm)
    r = env.reward(env.means(x, 0)[np.arange(len(x)), arms], arms, rng)
    prior = np.empty((k, env.dim))
    for a in range(k):
        xa, ra = x[arms == a], r[arms == a]
        prior[a] = np.linalg.solve(ridge * np.eye(env.dim) + xa.T @ xa, xa.T @ ra)
    return prior


def best_single_arm(env: Env) -> int:
    rng = np.random.default_rng(321)
    x, _ = env.contexts(20000, rng)
    mu = env.means(x, 0)
    if env.drift:
        mu = 0.5 * (mu + env.means(x, env.T))
    return int(mu.mean(axis=0).argmax())


def selector_specs(hyper: dict, env: Env, seed: int) -> dict[str, tuple[str, dict]]:
    """Label -> (registry name, options) for one environment instance."""
    specs = {
        "random": ("random", {}),
        "fixed (best single arm)": ("fixed", {"arm": best_single_arm(env)}),
        "round_robin": ("round_robin", {}),
        "eps_greedy": ("eps_greedy", {}),
        "ucb1": ("ucb1", {}),
        "exp3": ("exp3", {}),
        "laser": ("laser", dict(hyper["laser"])),
        "laser alpha 0.1 (LASeR released code)": ("laser", {"alpha": 0.1}),
        "laser discount": ("laser", dict(hyper["laser_discount"])),
        "thompson": ("thompson", dict(hyper["thompson"])),
        "thompson discount": ("thompson", {**hyper["thompson"], "discount": hyper["laser_discount"]["discount"]}),
        "thompson + offline prior": ("thompson", {**hyper["thompson"], **hyper["thompson_prior"],
                                                  "prior": offline_prior(env, seed)}),
        "thompson + true prior": ("thompson", {**hyper["thompson"], **hyper["thompson_prior"],
                                               "prior": env.theta_before.copy()}),
    }
    if "discount" not in {f.name for f in dataclasses.fields(selector_class("thompson").config_cls)}:
        del specs["thompson discount"]  # a core whose Thompson selector has no forgetting
    return specs


def run(name: str, options: dict, env: Env, seed: int, feedback: str) -> np.ndarray:
    """Per-step pseudo-regret of one selector on one environment instance."""
    sel = make_selector(name, len(ARMS), env.dim, seed=seed, **options)
    norm = make_signal_norm(feedback) if feedback != "raw" else None
    env.rng = np.random.default_rng([seed, 9])  # the same context/reward stream for every selector
    regret = np.empty(env.T)
    xs, _ = env.contexts(env.T)
    for t in range(env.T):
        x = xs[t:t + 1]
        arm = sel.select(x)
        mu = env.means(x, t)[0]
        regret[t] = mu.max() - mu[arm[0]]
        r = env.reward(mu[arm], arm)
        if norm is not None:
            r = norm(r, arm)
        sel.update(arm, x, r)
    return regret


def recovery_steps(regret: np.ndarray, T: int, window: int = 100, pre: int = 500, floor: float = 0.01):
    """Steps from the drift until the trailing-window regret is back under 2x the pre-drift level
    (and stays there for another window); None if it never does before T."""
    half = T // 2
    level = float(regret[half - pre:half].mean())
    threshold = max(2.0 * level, floor)
    csum = np.concatenate([[0.0], np.cumsum(regret)])
    ends = np.arange(half + window, T + 1)  # window (end - window, end], entirely after the drift
    wmean = (csum[ends] - csum[ends - window]) / window
    below = wmean <= threshold
    for i in range(len(ends)):
        if below[i:i + window + 1].all() and i + window < len(ends):
            return int(ends[i] - half), level, threshold
    return None, level, threshold


def tune(args) -> dict:
    """Grid search on TUNE_SEEDS (never the test seeds)."""
    hyper = {k: dict(v) for k, v in HYPER.items()}
    log = {}

    def score(label, name, opts, drift, horizon):
        vals = []
        for s in TUNE_SEEDS:
            env = Env(s, drift, args.T)
            full = dict(opts)
            if label == "thompson_prior":
                full = {**hyper["thompson"], **opts, "prior": offline_prior(env, s)}
            vals.append(run(name, full, env, s, args.feedback)[:horizon].sum())
        return float(np.mean(vals))

    plan = [("laser", "laser", False, args.T), ("thompson", "thompson", False, args.T),
            ("laser_discount", "laser", True, args.T), ("thompson_prior", "thompson", False, 500)]
    for label, name, drift, horizon in plan:
        results = [(score(label, name, opts, drift, horizon), opts) for opts in TUNE_GRID[label]]
        log[label] = [{"options": o, "mean_regret": v} for v, o in results]
        hyper[label] = dict(min(results, key=lambda t: t[0])[1])
        print(f"tune {label:15s} -> {hyper[label]}  " +
              "  ".join(f"{json.dumps(o)}: {v:.1f}" for v, o in results), flush=True)
    return {"hyper": hyper, "log": log}


def evaluate(env_kind: str, hyper: dict, args) -> dict:
    drift = env_kind == "drift"
    curves: dict[str, list[np.ndarray]] = {}
    for seed in args.seeds:
        env = Env(seed, drift, args.T)
        for label, (name, opts) in selector_specs(hyper, env, seed).items():
            if drift and "prior" in label:
                continue  # the prior is of the pre-drift pool: not part of the drift study
            if not drift and label == "thompson discount":
                continue  # forgetting only matters for the drift study
            curves.setdefault(label, []).append(run(name, opts, env, seed, args.feedback))
    out = {}
    for label, regs in curves.items():
        regs = np.stack(regs)
        cum = regs.cumsum(axis=1)
        row = {"final_mean": float(cum[:, -1].mean()), "final_std": float(cum[:, -1].std()),
               "first500_mean": float(cum[:, 499].mean()), "first500_std": float(cum[:, 499].std()),
               "per_seed_final": cum[:, -1].tolist(), "curve_mean": cum.mean(axis=0), "curve_std": cum.std(axis=0),
               "step_regret_mean": regs.mean(axis=0)}
        if drift:
            rec = [recovery_steps(r, args.T) for r in regs]
            row["recovery_steps"] = [r[0] for r in rec]
            row["pre_drift_level"] = [r[1] for r in rec]
            row["recovery_threshold"] = [r[2] for r in rec]
            row["regret_after_drift_mean"] = float((cum[:, -1] - cum[:, args.T // 2 - 1]).mean())
        out[label] = row
    return out


def fmt(m: float, s: float) -> str:
    return f"{m:.1f} ± {s:.1f}"


def recovery_text(row: dict) -> str:
    steps = row["recovery_steps"]
    level = float(np.mean(row["pre_drift_level"]))
    if level > 0.1:  # never converged before the drift: "back to 2x its level" says nothing
        return f"n/a (pre-drift regret {level:.2f}/step)"
    ok = [s for s in steps if s is not None]
    if not ok:
        return f"never (0/{len(steps)} seeds)"
    txt = f"{np.mean(ok):.0f} ± {np.std(ok):.0f}"
    if len(ok) < len(steps):
        txt += f" ({len(ok)}/{len(steps)} seeds; others never)"
    return txt


def markdown(stat: dict, drift: dict, hyper: dict, targets: list[dict], meta: dict) -> str:
    rnd = stat["random"]["final_mean"]
    lines = ["# Selector regret: synthetic multi-domain reward-model pool", "",
             f"T = {meta['T']}, d = {DIM}, K = {len(ARMS)} arms, 4 domains; seeds {meta['seeds']} "
             f"(mean ± std over seeds); feedback: {meta['feedback_text']}. Hyperparameters tuned on seeds "
             f"{list(TUNE_SEEDS)}: {json.dumps(hyper)}; baselines use the core's defaults "
             "(eps_greedy epsilon 0.1, ucb1 c 1, exp3 gamma 0.1).", "",
             "| selector | regret @ T (stationary) | % of random | regret @ 500 | regret @ T (drift) "
             "| regret after drift | recovery steps (drift) |", "|---|---|---|---|---|---|---|"]
    for label, row in stat.items():
        d = drift.get(label)
        learner = label.startswith(("laser", "thompson"))  # the criterion is trivial for non-learners
        drift_cells = (f"{fmt(d['final_mean'], d['final_std'])} | {d['regret_after_drift_mean']:.1f} | "
                       f"{recovery_text(d) if learner else 'n/a'}" if d else "- | - | -")
        lines.append(f"| {label} | {fmt(row['final_mean'], row['final_std'])} | {100 * row['final_mean'] / rnd:.1f}% "
                     f"| {fmt(row['first500_mean'], row['first500_std'])} | {drift_cells} |")
    for label, d in drift.items():
        if label not in stat:
            lines.append(f"| {label} | - | - | - | {fmt(d['final_mean'], d['final_std'])} "
                         f"| {d['regret_after_drift_mean']:.1f} | {recovery_text(d)} |")
    for name in ENSEMBLES:
        lines.append(f"| {name} | uses all arms (K x scoring cost; no bandit regret) | | | | | |")
    lines += ["", "Recovery: steps from the drift (t = T/2) to the end of the first trailing 100-step window "
              "whose mean per-step regret is <= 2x the pre-drift level (mean per-step regret over "
              "t in [T/2-500, T/2), floor 0.01) and stays so for the next 100 windows.", "",
              "| target | measured | met |", "|---|---|---|"]
    for t in targets:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    lines += ["", "![cumulative regret](selector_regret.png)", ""]
    return "\n".join(lines) + "\n"


def plot(stat: dict, drift: dict, T: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys([*stat, *drift]))
    learners = [lb for lb in labels if lb.startswith(("laser", "thompson")) and "released code" not in lb]
    others = [lb for lb in labels if lb not in learners]
    color = {lb: plt.get_cmap("tab10")(i % 10) for i, lb in enumerate(learners)}  # solid lines
    color.update({lb: plt.get_cmap("Dark2")(i % 8) for i, lb in enumerate(others)})  # dashed lines
    steps = np.arange(1, T + 1)

    def curves(ax, res, keep, title):
        for label, row in res.items():
            if label not in keep:
                continue
            style = "-" if label in learners else "--"
            ax.plot(steps, row["curve_mean"], style, color=color[label], label=label, lw=1.4)
            ax.fill_between(steps, row["curve_mean"] - row["curve_std"], row["curve_mean"] + row["curve_std"],
                            color=color[label], alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel("cumulative pseudo-regret (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)

    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    curves(axes[0, 0], stat, labels, "stationary: every bandit selector")
    curves(axes[0, 1], stat, learners, "stationary: contextual selectors only (zoom)")
    curves(axes[1, 0], drift, labels, "drift at T/2 (vertical line)")
    axes[1, 0].axvline(T // 2, color="k", lw=0.8)
    ax = axes[1, 1]
    lo, hi = max(0, T // 2 - 500), min(T, T // 2 + 1500)
    kernel = np.ones(100) / 100
    for label in learners:
        if label in drift:
            w = np.convolve(drift[label]["step_regret_mean"], kernel, mode="full")[:T]  # trailing 100-step mean
            ax.plot(np.arange(lo, hi), w[lo:hi], color=color[label], label=label)
    ax.axvline(T // 2, color="k", lw=0.8)
    ax.set_title("drift: per-step regret, trailing 100-step mean (mean over seeds)")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--T", type=int, default=5000)
    p.add_argument("--feedback", choices=("raw", "quantile"), default="raw")
    p.add_argument("--tune", action="store_true", help="grid search on seeds 1000-1002 first, then evaluate")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, T = 1500")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.T = args.seeds[:2], 1500
    t0 = time.perf_counter()
    hyper, tune_log = {k: dict(v) for k, v in HYPER.items()}, None
    if args.tune:
        tuned = tune(args)
        hyper, tune_log = tuned["hyper"], tuned["log"]
    stat = evaluate("stationary", hyper, args)
    print(f"stationary done [{time.perf_counter() - t0:.0f} s]", flush=True)
    drift = evaluate("drift", hyper, args)
    print(f"drift done [{time.perf_counter() - t0:.0f} s]", flush=True)

    rnd = stat["random"]["final_mean"]
    targets = []
    for label in ("laser", "thompson"):
        v = stat[label]["final_mean"] / rnd
        targets.append({"target": f"{label}: regret @ T <= 15% of random's", "value": v, "met": bool(v <= 0.15),
                        "measured": f"{100 * v:.1f}% ({stat[label]['final_mean']:.1f} vs {rnd:.1f})"})
    cold = stat["thompson"]["first500_mean"]
    for label in ("thompson + true prior", "thompson + offline prior"):
        v = stat[label]["first500_mean"] / cold
        targets.append({"target": f"{label}: regret over the first 500 steps <= 50% of cold start's", "value": v,
                        "met": bool(v <= 0.5),
                        "measured": f"{100 * v:.1f}% ({stat[label]['first500_mean']:.1f} vs {cold:.1f})"})
    rec = drift["laser discount"]["recovery_steps"]
    ok = all(s is not None and s <= 500 for s in rec)
    gamma = hyper["laser_discount"].get("discount")
    targets.append({"target": f"laser discount {gamma}: recovers within 500 steps of the drift",
                    "value": rec, "met": bool(ok),
                    "measured": f"{recovery_text(drift['laser discount'])} steps; per seed {rec}; pre-drift level "
                                f"{np.mean(drift['laser discount']['pre_drift_level']):.3f}/step"})
    meta = {"T": args.T, "seeds": args.seeds, "feedback": args.feedback,
            "feedback_text": "raw Beta rewards in [0, 1]" if args.feedback == "raw"
            else "LASeR's quantile rescaling, make_signal_norm('quantile')",
            "wall_s": time.perf_counter() - t0, "load_after": os.getloadavg(),
            "environment": {"stationary": Env(args.seeds[0], False, args.T).describe(),
                            "drift": Env(args.seeds[0], True, args.T).describe(), "arms": ARMS, "domains": DOMAINS,
                            "shares": SHARES.tolist(), "spread": SPREAD.tolist(), "kappa": KAPPA.tolist(),
                            "Q_before": Q_BEFORE.tolist(), "Q_after": Q_AFTER.tolist(), "dim": DIM}}
    md = markdown(stat, drift, hyper, targets, meta)
    print()
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(stat, drift, args.T, args.out / "selector_regret.png")
    (args.out / "selector_regret.md").write_text(md)

    def strip(res):
        return {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, np.ndarray)} for k, v in res.items()}

    (args.out / "selector_regret.json").write_text(json.dumps(
        {"meta": meta, "hyperparameters": hyper, "tuned_on_seeds": list(TUNE_SEEDS), "tune_log": tune_log,
         "stationary": strip(stat), "drift": strip(drift), "targets": targets,
         "ensembles": {n: "uses all arms" for n in ENSEMBLES}}, indent=2, default=float))
    print(f"wrote {args.out / 'selector_regret.md'}, .json, .png  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
