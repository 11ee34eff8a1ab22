"""BayesianRouter's offline prior vs cold start: early regret on prompts hidden from training.

Data (verifier-labelled, from reasoning-gym): 4 domains x N pairs, prompt = the task's question,
chosen = " The answer is <gold>.", rejected = the same with a wrong answer (gold + a nonzero offset;
for spell_backward a letter swap). Arms (func: files written to a temp dir, real computations):
  calc     evaluates the expression of basic_arithmetic prompts, a coin flip (hash) elsewhere
  gcd      computes the GCD of gcd prompts, a coin flip elsewhere
  speller  reverses the word of spell_backward prompts, a coin flip elsewhere
  judge    compares with the gold label but is inverted on a hashed 25% of prompts: ~0.75 everywhere
leg_counting has no expert: only the judge is better than chance there.
Offline: the real `train-router` pipeline (pool scoring, cache, BT router) on the training split.
Online: one decision per held-out prompt (first 500, random order per seed); reward = whether the
chosen arm ranked that pair correctly (0/1); pseudo-regret = max_k acc[k, domain] - acc[a, domain]
with acc the arms' held-out accuracy per domain.

Run: .venv/bin/python benchmarks/bench_router_prior.py [--encoder minilm|hashing] [--seeds 5]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOMAINS = ["basic_arithmetic", "gcd", "spell_backward", "leg_counting"]
ARMS = {
    "calc": "basic_arithmetic",
    "gcd": "gcd",
    "speller": "spell_backward",
}
ARM_SRC = '''
import hashlib, json, math, re
DOMAIN = {domain!r}


def _coin(text):
    return int(hashlib.blake2b(text.encode(), digest_size=4).hexdigest(), 16) / 2**32


def _answer(response):
    m = re.search(r"The answer is (.*)\\.$", response.strip())
    return m.group(1).strip() if m else ""


def _truth(prompt):
    if DOMAIN == "basic_arithmetic":
        expr = re.sub(r"^[^0-9(\\-]*", "", prompt).rstrip(". ")
        return str(eval(expr, {{"__builtins__": {{}}}}, {{}}))
    if DOMAIN == "gcd":
        nums = [int(n) for n in re.findall(r"\\d+", prompt.split(":")[-1])]
        return str(math.gcd(*nums))
    if DOMAIN == "spell_backward":
        return prompt.strip().split()[-1][::-1]
    label = None
    return label


def _mine(prompt):
    return {{"basic_arithmetic": "Calculate", "gcd": "Greatest Common Divisor",
             "spell_backward": "Spell this word backward"}}.get(DOMAIN, "\\x00") in prompt


def reward_func(queries, prompts, labels, **kwargs):
    out = []
    for q, p, label in zip(queries, prompts, labels):
        resp = q[len(p):]
        if DOMAIN == "judge":  # the gold label, but inverted on a hashed quarter of the prompts
            right = _answer(resp) == json.loads(label)["answer"]
            out.append(float(right) if _coin("judge" + p) > 0.25 else float(not right))
            continue
        if not _mine(p):
            out.append(_coin(DOMAIN + q))
            continue
        try:
            truth = _truth(p)
            ans = _answer(resp)
            ok = ans == truth or abs(float(ans) - float(truth)) < 1e-6
        except Exception:
            ok = False
        out.append(float(ok))
    return out
'''


def make_data(n_per_domain: int, seed: int) -> list[dict]:
    import reasoning_gym as rg

    rng = random.Random(seed)
    rows = []
    for dom in DOMAINS:
        for entry in rg.create_dataset(dom, size=n_per_domain, seed=seed + 1):
            gold = str(entry["answer"])
            if dom == "spell_backward" and len(gold) > 1:
                i = rng.randrange(len(gold) - 1)
                wrong = gold[:i] + gold[i + 1] + gold[i] + gold[i + 2:]
                wrong = wrong if wrong != gold else gold + "s"
            else:
                try:
                    wrong = str(int(float(gold)) + rng.choice([-3, -2, -1, 1, 2, 5, 10]))
                except ValueError:
                    wrong = gold + "0"
            rows.append({"prompt": entry["question"], "chosen": f" The answer is {gold}.",
                         "rejected": f" The answer is {wrong}.", "label": json.dumps({"answer": gold}),
                         "domain": dom})
    return rows


def simulate(make, ctx, correct, dom, acc, order, t_max):
    sel = make()
    regret = np.zeros(t_max)
    hits = np.zeros(t_max)
    best = acc.max(axis=0)
    for t, p in enumerate(order[:t_max]):
        x = ctx[p:p + 1]
        a = int(sel.select(x)[0])
        r = float(correct[a, p])
        if hasattr(sel, "update"):
            sel.update([a], x, [r])
        regret[t] = best[dom[p]] - acc[a, dom[p]]
        hits[t] = r
    return np.cumsum(regret), hits


class Fixed:
    def __init__(self, pick):
        self.pick = pick

    def select(self, x):
        return np.array([self.pick(x)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--per_domain", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--decisions", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/router_prior"))
    args = ap.parse_args()

    from laser_plugin.core.registry import make_selector
    from laser_plugin.pool.pool import RewardPool
    from laser_plugin.router.data import PreferencePairs
    from laser_plugin.router.encoders import resolve_encoder
    from laser_plugin.router.model import RouterConfig
    from laser_plugin.router.pipeline import run_pipeline, write_outputs
    from laser_plugin.router.prior import load_router
    from laser_plugin.analysis.agreement import correctness

    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="bench_router_"))
    specs = []
    for name, dom in [*ARMS.items(), ("judge", "judge")]:
        (tmp / f"{name}.py").write_text(ARM_SRC.format(domain=dom))
        specs.append(f"func:{tmp / name}.py")
    rows = make_data(args.per_domain, seed=0)
    pairs = PreferencePairs([r["prompt"] for r in rows], [r["chosen"] for r in rows],
                            [r["rejected"] for r in rows], [r["label"] for r in rows])
    dom_all = np.array([DOMAINS.index(r["domain"]) for r in rows])
    pool = RewardPool(",".join(specs))
    pool.load_all()
    encoder = resolve_encoder(args.encoder, args.dim, seed=0)
    config = RouterConfig()
    heldout = args.decisions / len(rows) if args.decisions < len(rows) / 2 else 0.3
    run = run_pipeline(pairs, pool, encoder, config, heldout=heldout, split_seed=0, batch_size=64,
                       cache_dir=tmp / "cache")
    prior_file = tmp / "router.safetensors"
    write_outputs(run, prior_file, encoder, config)
    load_router(prior_file, pool.arm_names, args.dim, encoder.name, 0)  # the online check passes
    t_offline = time.time() - t0

    held = run.heldout_idx
    ctx, correct, dom = run.contexts[held], correctness(run.diffs[:, held]), dom_all[held]
    k = len(pool.arm_names)
    acc = np.array([[correct[a, dom == m].mean() for m in range(len(DOMAINS))] for a in range(k)])
    best_single = int(correct.mean(axis=1).argmax())
    t_max = min(args.decisions, len(held))
    methods = {
        "bayesian_router + prior (lambda0=1)": lambda s: make_selector("bayesian_router", k, args.dim, seed=s,
                                                                      prior=str(prior_file), prior_strength=1.0),
        "bayesian_router + prior (lambda0=10)": lambda s: make_selector("bayesian_router", k, args.dim, seed=s,
                                                                       prior=str(prior_file), prior_strength=10.0),
        "bayesian_router + prior (lambda0=100)": lambda s: make_selector("bayesian_router", k, args.dim, seed=s,
                                                                        prior=str(prior_file), prior_strength=100.0),
        "thompson (cold start)": lambda s: make_selector("thompson", k, args.dim, seed=s),
        "laser (LinUCB, cold start)": lambda s: make_selector("laser", k, args.dim, seed=s),
        "offline router only (no updates)": lambda s: Fixed(lambda x: int(run.router.route(x)[0])),
        f"best single arm ({pool.arm_names[best_single]})": lambda s: Fixed(lambda x: best_single),
    }
    checkpoints = [t for t in (50, 100, 250, 500) if t <= t_max]
    results = {}
    for name, make in methods.items():
        regs, accs = [], []
        for s in range(args.seeds):
            order = np.random.default_rng(100 + s).permutation(len(held))
            cum, hits = simulate(lambda: make(s), ctx, correct, dom, acc, order, t_max)
            regs.append(cum)
            accs.append(hits.mean())
        regs = np.array(regs)
        results[name] = {"regret": {t: [float(regs[:, t - 1].mean()), float(regs[:, t - 1].std())] for t in checkpoints},
                         "online_accuracy": float(np.mean(accs))}
    cold = results["thompson (cold start)"]["regret"]
    table = ["| method | " + " | ".join(f"regret@{t}" for t in checkpoints) + " | accuracy |",
             "|---|" + "---|" * (len(checkpoints) + 1)]
    for name, r in results.items():
        table.append(f"| {name} | " + " | ".join(f"{m:.1f} ± {sd:.1f}" for m, sd in r["regret"].values())
                     + f" | {r['online_accuracy']:.3f} |")
    early = checkpoints[min(1, len(checkpoints) - 1)]  # "early": the first 100 decisions
    ratio = {lam: {t: results[f"bayesian_router + prior (lambda0={lam})"]["regret"][t][0] / max(cold[t][0], 1e-9)
                   for t in checkpoints} for lam in (1, 10, 100)}
    ratio_lines = [f"- lambda0={lam}: " + ", ".join(f"@{t}: {v:.2f}" for t, v in r.items())
                   + f" -> target (<= 0.5 @{early}) {'met' if r[early] <= 0.5 else 'NOT met'}" for lam, r in ratio.items()]
    h = run.report["heldout"]
    md = [f"# Router prior vs cold start ({args.encoder} encoder, d={args.dim}, {len(held)} held-out prompts, "
          f"{len(run.train_idx)} training pairs, {args.seeds} seeds, mean ± sd)", "",
          *table, "",
          "Regret of bayesian_router + prior / regret of cold-start thompson (same noise, exploration):",
          *ratio_lines,
          "A Thompson draw of a score has prior std exploration * sqrt(|x|^2 / lambda0) = sqrt(2 / lambda0) here "
          "(unit features + bias) against rewards in [0, 1]: at lambda0=1 the draws drown the prior.",
          "", f"Offline router held-out accuracy {h['router']:.3f}; single arms "
          + ", ".join(f"{n} {a:.3f}" for n, a in h["single_arm"].items())
          + f"; random {h['random_arm']:.3f}; majority vote {h['majority_vote']:.3f}; oracle {h['oracle']:.3f}.",
          "Held-out accuracy per arm x domain (" + ", ".join(DOMAINS) + "): "
          + "; ".join(f"{n} " + "/".join(f"{v:.2f}" for v in acc[i]) for i, n in enumerate(pool.arm_names)),
          f"Offline stage (scoring + encoding + training) {t_offline:.0f} s; total {time.time() - t0:.0f} s.",
          "", "Command: `.venv/bin/python benchmarks/bench_router_prior.py "
          + " ".join(sys.argv[1:]) + "`"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "results": results, "ratio": ratio,
                                                    "acc": acc.tolist(), "arms": pool.arm_names,
                                                    "offline": h}, indent=2))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
