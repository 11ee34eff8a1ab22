"""train-router end to end: pairs + pool -> scores (cached) -> labels -> router -> file + report."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from tqdm import tqdm

from laser_plugin.analysis.agreement import agreement_matrix, correctness, format_matrix
from laser_plugin.router.data import PreferencePairs, split_indices
from laser_plugin.router.encoders import EncoderSpec
from laser_plugin.router.model import RouterConfig, TrainedRouter, train_router
from laser_plugin.router.prior import save_router
from laser_plugin.router.scoring import score_pairs


@dataclass
class RouterRun:
    router: TrainedRouter
    arm_names: list[str]
    contexts: np.ndarray  # [P, d]
    diffs: np.ndarray  # [K, P]
    train_idx: np.ndarray
    heldout_idx: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


def encode_texts(encoder: Any, texts: list[str], batch_size: int = 64) -> np.ndarray:
    chunks = [encoder(texts[i:i + batch_size]) for i in tqdm(range(0, len(texts), batch_size), desc="encode",
                                                              leave=False)]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim))


def evaluate(router: TrainedRouter, contexts: np.ndarray, diffs: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Accuracy on pairs: router's arm, each single arm, random arm, majority vote, oracle."""
    c = correctness(diffs)
    p = c.shape[1]
    picks = router.route(contexts)
    votes = np.sign(diffs).sum(axis=0)
    per_arm = c.mean(axis=1)
    return {
        "pairs": int(p),
        "router": float(c[picks, np.arange(p)].mean()),
        "single_arm": {n: float(a) for n, a in zip(names, per_arm)},
        "best_single_arm": float(per_arm.max()),
        "random_arm": float(per_arm.mean()),
        "majority_vote": float(np.where(votes > 0, 1.0, np.where(votes == 0, 0.5, 0.0)).mean()),  # tie: coin flip
        "oracle": float(c.any(axis=0).mean()),
        "router_pick_share": {n: float((picks == k).mean()) for k, n in enumerate(names)},
        "agreement": agreement_matrix(diffs).tolist(),
    }


def run_pipeline(pairs: PreferencePairs, pool: Any, encoder: EncoderSpec, config: RouterConfig,
                 heldout: float = 0.2, split_seed: int = 0, batch_size: int = 16,
                 cache_dir: Optional[str | Path] = None) -> RouterRun:
    diffs, cache_stats = score_pairs(pool, pairs, batch_size=batch_size, cache_dir=cache_dir)
    contexts = encode_texts(encoder.build(), pairs.prompts)
    train_idx, held_idx = split_indices(len(pairs), heldout, split_seed)
    router = train_router(contexts[train_idx], correctness(diffs[:, train_idx]), config)
    names = list(pool.arm_names)
    report = {
        "arms": names,
        "encoder": {"identity": encoder.identity, "dim": encoder.dim, "seed": encoder.seed},
        "router_config": config.to_dict(),
        "train_pairs": int(len(train_idx)),
        "bt_triples": router.train_pairs,
        "final_loss": router.final_loss,
        "score_cache": cache_stats,
        "heldout": evaluate(router, contexts[held_idx], diffs[:, held_idx], names),
        "train": {k: v for k, v in evaluate(router, contexts[train_idx], diffs[:, train_idx], names).items()
                  if k != "agreement"},
    }
    return RouterRun(router, names, contexts, diffs, train_idx, held_idx, report)


def report_markdown(report: dict[str, Any]) -> str:
    h = report["heldout"]
    lines = [f"# Router report ({h['pairs']} held-out pairs, encoder {report['encoder']['identity']}, "
             f"d={report['encoder']['dim']})", "", "| policy | held-out accuracy |", "|---|---|",
             f"| router | {h['router']:.3f} |"]
    lines += [f"| arm {n} | {a:.3f} |" for n, a in h["single_arm"].items()]
    lines += [f"| random arm | {h['random_arm']:.3f} |", f"| majority vote | {h['majority_vote']:.3f} |",
              f"| oracle (any arm right) | {h['oracle']:.3f} |", "",
              "Router picks: " + ", ".join(f"{n} {s:.0%}" for n, s in h["router_pick_share"].items()), "",
              "## Pairwise agreement of the arms (held-out)", "",
              format_matrix(np.asarray(h["agreement"]), report["arms"])]
    return "\n".join(lines)


def write_outputs(run: RouterRun, output: str | Path, encoder: EncoderSpec, config: RouterConfig,
                  report_path: Optional[str | Path] = None) -> tuple[Path, Path]:
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_router(out, run.router, run.arm_names, encoder, config.to_dict())
    rep = Path(report_path) if report_path else out.with_suffix(".report.json")
    rep.write_text(json.dumps(run.report, indent=2))
    rep.with_suffix(".md").write_text(report_markdown(run.report))
    return out, rep
