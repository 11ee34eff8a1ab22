"""Best-of-N with a bandit-chosen RM (LASeR Sec. 5.3, long-context QA): no training, one RM per batch.

For each scoring batch of prompts the selector picks one arm (from a state learned in iterative DPO,
``--laser.selector_state``, or from scratch), that arm scores the N candidates of every prompt, and the
candidates are written ranked. With ``--laser.online_signal verifier`` (labels needed) the selector
also learns online: each decision is rewarded with the share of its prompts whose top candidate is
correct (answer extraction), the quantity best-of-N is judged by.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from laser_plugin.adapters.openrlhf.bandit import check_prior_contexts, make_bandit, make_featurizer
from laser_plugin.adapters.openrlhf.dpo.data import load_prompts
from laser_plugin.adapters.openrlhf.inference.policy import load_hf_policy, local_strategy
from laser_plugin.core.state_io import write_jsonl
from laser_plugin.dpo.scoring import policy_contexts, score_samples
from laser_plugin.eval.answers import is_correct
from laser_plugin.eval.metrics import accuracy_by_domain, format_table


def _candidates(args: Any, items: list, model: Any, tokenizer: Any) -> tuple[list[int], list[str], Any]:
    from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate

    key = args.data.candidates_key
    if key:
        pidx, responses = [], []
        for i, it in enumerate(items):
            cands = it.row[key]
            if not isinstance(cands, (list, tuple)) or not cands:
                raise ValueError(f"--data.candidates_key {key!r} must hold a non-empty list of responses (row {i})")
            pidx += [i] * len(cands)
            responses += [str(c) for c in cands]
        return pidx, responses, None
    if model is None:
        raise ValueError("give --data.candidates_key or --model.model_name_or_path to sample candidates")
    r = args.rollout
    cfg = SamplingConfig(r.n_samples_per_prompt, r.temperature, r.top_p, r.max_new_tokens, r.prompt_max_len,
                         r.batch_size, seed=args.train.seed)
    s = hf_generate(model, tokenizer, [it.prompt for it in items], cfg, desc="candidates")
    return s.prompt_index, s.responses, s.sequences


def best_of_n(args: Any, laser: Any) -> dict:
    check_prior_contexts(laser, args.laser.context if args.model.model_name_or_path else "encoder")
    model = tokenizer = None
    if args.model.model_name_or_path:
        model, tokenizer = load_hf_policy(args.model.model_name_or_path, args.ds.param_dtype)
    elif args.data.apply_chat_template:
        raise ValueError("--data.apply_chat_template needs --model.model_name_or_path (its tokenizer)")
    strategy = local_strategy(args)
    items = load_prompts(args, strategy, tokenizer, keep_rows=True)
    pidx, responses, seqs = _candidates(args, items, model, tokenizer)
    bandit = make_bandit(laser, tokenizer=tokenizer)
    if args.laser.selector_state:
        bandit.load(args.laser.selector_state)
    contexts = None
    if model is not None and args.laser.context == "policy":
        contexts = policy_contexts(model, tokenizer, [it.prompt for it in items],
                                   make_featurizer(model.config.hidden_size, laser))
    online = args.laser.online_signal
    if online not in ("none", "verifier"):
        raise ValueError(f"--laser.online_signal must be none or verifier, got {online!r}")
    pidx_arr = np.asarray(pidx)
    records, size = [], args.laser.score_batch_size
    for start in range(0, len(items), size):
        chunk = list(range(start, min(start + size, len(items))))
        rows = np.flatnonzero(np.isin(pidx_arr, chunk))
        scored = score_samples(bandit, items, pidx_arr[rows].tolist(), [responses[i] for i in rows], size, contexts,
                               None if seqs is None else [seqs[i] for i in rows], getattr(tokenizer, "pad_token_id", 0) or 0)
        chunk_records = []
        for p in chunk:
            mine = np.flatnonzero(pidx_arr[rows] == p)
            order = mine[np.argsort(-scored.rewards[mine], kind="stable")]
            it, arm = items[p], int(scored.arms[order[0]])
            best = responses[rows[order[0]]]
            chunk_records.append({
                "prompt_index": it.index, "prompt": it.raw, "domain": it.domain, "label": it.label,
                "arm": bandit.arm_names[arm] if arm >= 0 else "ensemble", "decision": int(scored.decision_ids[order[0]]),
                "best": best, "candidates": [{"response": responses[rows[j]], "score": float(scored.rewards[j]),
                                              "raw_score": float(scored.raw[j])} for j in order],
                "best_correct": is_correct(best, it.label) if it.label not in (None, "") else None,
                "first_correct": is_correct(responses[rows[mine[0]]], it.label) if it.label not in (None, "") else None})
        if online == "verifier":
            by_decision: dict[int, list[float]] = {}
            for rec in chunk_records:
                if rec["best_correct"] is not None:
                    by_decision.setdefault(rec["decision"], []).append(float(rec["best_correct"]))
            if by_decision:
                bandit.update(list(by_decision), [float(np.mean(v)) for v in by_decision.values()])
        records += chunk_records
    out = Path(args.bon.output)
    write_jsonl(out, records)
    if args.laser.save_state:
        bandit.save(args.laser.save_state)
    return _report(records, bandit, out)


def _report(records: list[dict], bandit: Any, out: Path) -> dict:
    labelled = [r for r in records if r["best_correct"] is not None]
    report = {"output": str(out), "prompts": len(records), "arm_share": {}}
    for r in records:
        report["arm_share"][r["arm"]] = report["arm_share"].get(r["arm"], 0) + 1 / len(records)
    print(f"[laser] best-of-N: {len(records)} prompts ranked -> {out}")
    print("arm share: " + ", ".join(f"{k}={v:.2f}" for k, v in sorted(report["arm_share"].items())))
    if labelled:
        best = accuracy_by_domain({"domain": r["domain"], "correct": r["best_correct"]} for r in labelled)
        first = accuracy_by_domain({"domain": r["domain"], "correct": r["first_correct"]} for r in labelled)
        report["accuracy_best"], report["accuracy_first"] = best, first
        print(format_table([[d, int(v["n"]), v["accuracy"], first[d]["accuracy"]] for d, v in best.items()],
                           ["domain", "n", "acc best-of-N", "acc first sample"]))
    return report


__all__ = ["best_of_n"]
