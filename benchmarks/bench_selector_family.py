"""Selector regret over a FAMILY of generated drifting contextual environments, with held-out seeds.

One environment per seed (``make_env``), every property drawn at random:

  contexts   M = 2-6 clusters with Dirichlet traffic shares; x = [z / ||z||, 1] (unit features plus a
             bias, like ``ContextFeaturizer``), z = c_m + s g / sqrt(d - 1): c_m orthonormal centroids,
             g ~ N(0, I), spread s in [0.05, 0.4]; d in {16, 24, 32, 48, 64, 96, 128}.
  arms       K = 3-8 reward models; arm k's expected reward is linear in the context,
             mu_k(x) = clip(theta_k . x, 0, 1), theta_k built so that its mean over cluster m is
             Q[k, m] (each cluster has one best arm at 0.75-0.9, the others 0.3-0.7) plus a random
             within-cluster direction (so the context matters inside a cluster too).
             MISLEADING ARM (4 environments in 5): 0.95 on the busiest cluster, 0.15-0.3 everywhere
             else and 3x noisier than the others: on one cluster it looks like the best RM there is.
  rewards    raw signal mu_k(x) + sigma_k eps (sigma: 0.05-0.25 per environment, x0.7-1.3 per arm),
             then LASeR's quantile normaliser (``make_signal_norm("quantile")``): bandit rewards in [0, 1].
  drifts     0, 1 or 2 (probabilities 0.2, 0.4, 0.4) at random times (first in [0.3, 0.6] T, a second
             >= 0.2 T later and <= 0.85 T): at each, the best arm of some clusters (each with
             probability 0.6, at least one) changes: it swaps its quality there with another arm's.
  rounds     1, 2 or 4 decisions per update call (one ``select`` of that many contexts, one ``update``).

Regret: pseudo-regret with the true expected rewards, sum_t max_k mu_k(x_t) - mu_{a_t}(x_t), over
T = 5000 decisions, divided by random's EXPECTED regret on the same contexts (sum_t max_k mu_k(x_t) -
mean_k mu_k(x_t)), per segment: before the first drift (the whole run without drifts) and after it.
Reported: median and 90th percentile over environments, on the tuning seeds and on the HELD-OUT ones
(the numbers that count); selectors run with the core's DEFAULTS unless a row names options.

Targets (issue 16), held-out, defaults only, for laser and thompson: median <= 0.15 before the first
drift, <= 0.3 after it; 90th percentile <= 0.5 in both.

    python benchmarks/bench_selector_family.py            # defaults + references, ~6-8 min on one core
    python benchmarks/bench_selector_family.py --quick    # smoke: 4 + 4 environments, T = 600, defaults
    python benchmarks/bench_selector_family.py --tune     # the grid search on the tuning seeds only
Writes benchmarks/results/selector_family.{md,json} (--out DIR to change; --quick writes nothing
unless --out is given).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: d <= 128 products gain nothing from BLAS threads
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from laser_plugin import make_selector  # noqa: E402
from laser_plugin.core.signal_norm import make_signal_norm  # noqa: E402

DIMS = (16, 24, 32, 48, 64, 96, 128)
TUNE_SEEDS = tuple(range(1000, 1016))  # 16 environments: the only ones any option was chosen on
HELDOUT_SEEDS = tuple(range(0, 36))  # 36 environments: reported, never tuned on
T_DEFAULT = 5000

# Rows of the report: label -> (registry name, options). Empty options = the core's defaults.
DEFAULTS = {"laser": ("laser", {}), "thompson": ("thompson", {})}
# References, held-out only: the defaults before issue 16 (no forgetting; Thompson's wide cold prior).
REFERENCES = {
    "laser, previous defaults (no forgetting)": ("laser", {"alpha": 0.75, "window": 0}),
    "thompson, previous defaults (no forgetting)": ("thompson", {"noise": 0.5, "exploration": 1.0,
                                                                 "prior_strength": 1.0, "window": 0}),
}
TARGETS = {"median_before": 0.15, "median_after": 0.3, "p90_before": 0.5, "p90_after": 0.5}


@dataclasses.dataclass
class Env:
    """One generated environment; ``thetas[i]`` holds the arm parameters of segment i."""

    seed: int
    T: int
    K: int
    d: int
    M: int
    rows_per_round: int
    shares: np.ndarray
    spread: float
    centroids: np.ndarray  # [M, d-1], orthonormal
    sigma: np.ndarray  # [K] raw reward noise std
    misleading: Optional[int]
    drift_times: list[int]
    thetas: list[np.ndarray]  # [segments][K, d]
    quality: list[np.ndarray]  # [segments][K, M] designed cluster means

    def segment(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.drift_times), t, side="right")

    def features(self, clusters: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        g = rng.standard_normal((len(clusters), self.d - 1))
        z = self.centroids[clusters] + self.spread * g / np.sqrt(self.d - 1)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        return np.concatenate([z, np.ones((len(clusters), 1))], axis=1)

    def stream(self) -> tuple[np.ndarray, np.ndarray]:
        """The T contexts and the [T, K] expected rewards at their times (same for every selector)."""
        rng = np.random.default_rng([self.seed, 2])
        clusters = rng.choice(self.M, size=self.T, p=self.shares)
        x = self.features(clusters, rng)
        seg = self.segment(np.arange(self.T))
        mu = np.empty((self.T, self.K))
        for i, theta in enumerate(self.thetas):
            rows = seg == i
            mu[rows] = np.clip(x[rows] @ theta.T, 0.0, 1.0)
        return x, mu

    def describe(self) -> dict:
        return {"seed": self.seed, "K": self.K, "d": self.d, "clusters": self.M, "rows_per_round": self.rows_per_round,
                "shares": np.round(self.shares, 3).tolist(), "spread": round(self.spread, 3),
                "sigma": np.round(self.sigma, 3).tolist(), "misleading_arm": self.misleading,
                "drift_times": self.drift_times,
                "best_arm_per_cluster": [q.argmax(axis=0).tolist() for q in self.quality]}


def make_env(seed: int, T: int = T_DEFAULT) -> Env:
    """Draw one environment (see the module docstring); deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 1])
    k, d, m = int(rng.integers(3, 9)), int(rng.choice(DIMS)), int(rng.integers(2, 7))
    shares = rng.dirichlet(np.full(m, 2.0))
    spread = float(rng.uniform(0.05, 0.4))
    basis, _ = np.linalg.qr(rng.standard_normal((d - 1, d - 1)))
    centroids = basis[:, :m].T
    off = np.eye(d - 1) - centroids.T @ centroids  # directions no centroid uses

    q = rng.uniform(0.3, 0.7, size=(k, m))
    for c in range(m):  # one clear best arm per cluster
        q[rng.integers(k), c] = rng.uniform(0.75, 0.9)
    sigma = rng.uniform(0.05, 0.25) * rng.uniform(0.7, 1.3, size=k)
    misleading = None
    if rng.random() < 0.8:
        misleading = int(rng.integers(k))
        busiest = int(shares.argmax())
        q[misleading] = rng.uniform(0.15, 0.3, size=m)
        q[misleading, busiest] = 0.95
        sigma[misleading] *= 3.0

    n_drifts = int(rng.choice(3, p=[0.2, 0.4, 0.4]))
    times: list[int] = []
    if n_drifts >= 1:
        times.append(int(rng.uniform(0.3, 0.6) * T))
    if n_drifts == 2:
        times.append(int(rng.uniform(times[0] + 0.2 * T, 0.85 * T)))
    quality = [q]
    for _ in times:
        q = q.copy()
        changed = rng.random(m) < 0.6
        changed[rng.integers(m)] = True
        for c in np.flatnonzero(changed):
            best = int(q[:, c].argmax())
            other = int(rng.choice([a for a in range(k) if a != best]))
            q[[best, other], c] = q[[other, best], c]
        quality.append(q)

    # rho_m = E[z . c_m] within cluster m (Monte Carlo), so that cluster means hit Q exactly
    env = Env(seed, T, k, d, m, int(rng.choice([1, 2, 4])), shares, spread, centroids, sigma, misleading,
              times, [], quality)
    probe = np.random.default_rng([seed, 3])
    rho = np.array([(env.features(np.full(2000, c), probe)[:, :-1] @ centroids[c]).mean() for c in range(m)])
    within = rng.uniform(0.0, 0.05) * np.sqrt(d - 1) / spread  # within-cluster std of mu ~ U(0, 0.05)
    v = rng.standard_normal((k, d - 1)) @ off
    v *= within / np.linalg.norm(v, axis=1, keepdims=True)
    for qs in quality:
        base = qs.mean(axis=1)
        a = (qs - base[:, None]) / rho[None, :]
        env.thetas.append(np.concatenate([a @ centroids + v, base[:, None]], axis=1))
    return env


def run(env: Env, name: str, options: dict, seed: int = 0) -> np.ndarray:
    """Per-decision pseudo-regret of one selector on one environment."""
    sel = make_selector(name, env.K, env.d, seed=seed, **options)
    norm = make_signal_norm("quantile")
    x, mu = env.stream()
    noise = np.random.default_rng([env.seed, 4]).standard_normal(env.T)  # same draws for every selector
    regret = np.empty(env.T)
    m = env.rows_per_round
    for lo in range(0, env.T, m):
        rows = slice(lo, min(lo + m, env.T))
        arms = sel.select(x[rows])
        mu_r = mu[rows]
        idx = np.arange(len(arms))
        regret[rows] = mu_r.max(axis=1) - mu_r[idx, arms]
        raw = mu_r[idx, arms] + env.sigma[arms] * noise[rows]
        sel.update(arms, x[rows], norm(raw, arms))
    return regret


def ratios(env: Env, regret: np.ndarray) -> dict:
    """Regret / random's expected regret, before the first drift and after it (None: no drift)."""
    _, mu = env.stream()
    rnd = mu.max(axis=1) - mu.mean(axis=1)
    t1 = env.drift_times[0] if env.drift_times else env.T
    out = {"before": float(regret[:t1].sum() / rnd[:t1].sum()), "after": None}
    if env.drift_times:
        out["after"] = float(regret[t1:].sum() / rnd[t1:].sum())
    return out


def summarise(per_env: list[dict]) -> dict:
    out = {}
    for part in ("before", "after"):
        vals = np.array([r[part] for r in per_env if r[part] is not None])
        out[f"median_{part}"] = float(np.median(vals)) if len(vals) else None
        out[f"p90_{part}"] = float(np.quantile(vals, 0.9)) if len(vals) else None
        out[f"n_{part}"] = int(len(vals))
    return out


def evaluate(seeds: tuple, selectors: dict, T: int, log: bool = True) -> dict:
    res: dict = {label: [] for label in selectors}
    for s in seeds:
        env = make_env(s, T)
        t0 = time.perf_counter()
        for label, (name, opts) in selectors.items():
            res[label].append(ratios(env, run(env, name, opts, seed=s)))
        if log:
            cells = "  ".join(f"{lb.split(',')[0][:8]} {r[-1]['before']:.2f}/"
                              f"{'-' if r[-1]['after'] is None else format(r[-1]['after'], '.2f')}"
                              for lb, r in res.items())
            print(f"  env {s:4d} K={env.K} d={env.d:3d} M={env.M} m={env.rows_per_round} "
                  f"drifts={len(env.drift_times)}  {cells}  [{time.perf_counter() - t0:.1f} s]", flush=True)
    return {label: {"summary": summarise(rows), "per_env": rows} for label, rows in res.items()}


def cell(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.3f}"


def table(results: dict) -> str:
    lines = ["| selector | median before | p90 before | median after | p90 after |", "|---|---|---|---|---|"]
    for label, r in results.items():
        s = r["summary"]
        lines.append(f"| {label} | {cell(s['median_before'])} | {cell(s['p90_before'])} | "
                     f"{cell(s['median_after'])} | {cell(s['p90_after'])} |")
    return "\n".join(lines)


def check_targets(results: dict) -> list[dict]:
    out = []
    for label in ("laser", "thompson"):
        if label not in results:
            continue
        s = results[label]["summary"]
        for key, limit in TARGETS.items():
            v = s[key]
            out.append({"selector": label, "target": f"{key.replace('_', ' ')} <= {limit}", "value": v,
                        "met": bool(v is not None and v <= limit)})
    return out


# ---------------------------------------------------------------------------------------------- tuning
# Thompson's draws depend on (noise s, exploration v, prior_strength lam0) only through lam0 s^2 (the
# ridge in units of rows) and v s (the draw scale): noise stays 0.5 and the other two are searched.
TUNE_GRID = {
    "laser": [{"alpha": a, "window": w} for a in (0.5, 0.75, 1.0) for w in (700, 1000, 1500)],
    "thompson": [{"exploration": v, "prior_strength": p, "window": w} for v in (0.3, 0.4, 0.5)
                 for p in (2.0, 4.0, 8.0) for w in (700, 1000)],
}


def objective(summary: dict) -> float:
    """Worst target-normalised statistic (<= 1: every target met), the tuning criterion."""
    return max(summary[k] / lim for k, lim in TARGETS.items() if summary[k] is not None)


def tune(T: int, grid: dict) -> dict:
    out = {}
    for name, configs in grid.items():
        rows = []
        for opts in configs:
            r = evaluate(TUNE_SEEDS, {"x": (name, opts)}, T, log=False)["x"]["summary"]
            rows.append({"options": opts, "summary": r, "objective": objective(r)})
            print(f"tune {name} {json.dumps(opts)}: " + "  ".join(f"{k} {cell(r[k])}" for k in TARGETS)
                  + f"  -> {rows[-1]['objective']:.3f}", flush=True)
        out[name] = {"best": min(rows, key=lambda r: r["objective"])["options"], "log": rows}
        print(f"tune {name}: best {json.dumps(out[name]['best'])}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 4 tuning + 4 held-out environments, T = 600")
    p.add_argument("--tune", action="store_true", help="grid search on the tuning seeds (nothing else)")
    p.add_argument("--T", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="folder for selector_family.{md,json} "
                                                          "(default benchmarks/results; --quick: none)")
    args = p.parse_args()
    T = args.T or (600 if args.quick else T_DEFAULT)
    tune_seeds, held = (TUNE_SEEDS[:4], HELDOUT_SEEDS[:4]) if args.quick else (TUNE_SEEDS, HELDOUT_SEEDS)
    t0, cpu0 = time.perf_counter(), time.process_time()
    if args.tune:
        result = tune(T, TUNE_GRID)
        out = args.out or ROOT / "benchmarks" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "selector_family_tune.json").write_text(json.dumps(result, indent=1))
        print(f"wrote {out / 'selector_family_tune.json'} ({time.perf_counter() - t0:.0f} s)")
        return
    selectors = DEFAULTS if args.quick else {**DEFAULTS, **REFERENCES}
    print(f"tuning seeds {tune_seeds[0]}-{tune_seeds[-1]}:", flush=True)
    tuning = evaluate(tune_seeds, DEFAULTS, T)
    print(f"held-out seeds {held[0]}-{held[-1]}:", flush=True)
    heldout = evaluate(held, selectors, T)
    targets = check_targets(heldout)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    envs = [make_env(s, T) for s in held]
    n_drift = [len(e.drift_times) for e in envs]
    md = "\n".join([
        "# Selector regret over a family of drifting contextual environments", "",
        f"`python benchmarks/bench_selector_family.py{' --quick' if args.quick else ''}`: T = {T} decisions per "
        f"environment; {len(held)} held-out environments (seeds {held[0]}-{held[-1]}: {n_drift.count(0)} without "
        f"a drift, {n_drift.count(1)} with one, {n_drift.count(2)} with two), {len(tune_seeds)} tuning environments "
        f"(seeds {tune_seeds[0]}-{tune_seeds[-1]}, the only ones options were chosen on; defaults only). Regret / "
        "random's expected "
        "regret per environment, before the first drift (whole run when there is none) and after it; median and "
        "90th percentile over environments. Rewards: raw signal through LASeR's quantile normaliser. "
        "Selectors with the core's defaults unless the row says otherwise. See the script's docstring for the "
        "generator.", "",
        "## Held-out environments", "", table(heldout), "",
        "| selector | target | measured | met |", "|---|---|---|---|",
        *[f"| {t['selector']} | {t['target']} | {cell(t['value'])} | {'yes' if t['met'] else 'NO'} |" for t in targets],
        "", "## Tuning environments", "", table(tuning), "",
        f"Wall time {wall:.0f} s, CPU time {cpu:.0f} s (one process; load average {os.getloadavg()[0]:.1f} on a "
        "shared machine).", ""])
    print()
    print(md)
    out = args.out if args.out is not None else (None if args.quick else ROOT / "benchmarks" / "results")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "selector_family.md").write_text(md)
        (out / "selector_family.json").write_text(json.dumps(
            {"T": T, "tuning_seeds": list(tune_seeds), "heldout_seeds": list(held), "selectors":
             {k: {"name": n, "options": o} for k, (n, o) in selectors.items()}, "heldout": heldout, "tuning": tuning,
             "targets": targets, "environments": [e.describe() for e in envs], "wall_s": wall, "cpu_s": cpu}, indent=1))
        print(f"wrote {out / 'selector_family.md'}, .json")


if __name__ == "__main__":
    main()
