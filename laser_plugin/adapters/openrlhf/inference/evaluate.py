"""``laser-plugin evaluate``: accuracy per domain on verifiable prompts, and arm-selection share per domain.

Accuracy: the policy answers each prompt (greedy by default) or responses come from a predictions
JSONL; the answer is extracted (number / yes-no / multiple choice, inferred from the label unless
``--eval.answer_kind``) and compared with the label; yes/no and multiple-choice domains also get a
balanced accuracy (the mean of each label's accuracy). Arm share: from an iterative-DPO output folder
(``--eval.run_dir``), which RM the bandit chose for each prompt's samples, per domain and round, and
which signal trained the bandit (so a report always says whether it was LASeR's -loss).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from laser_plugin.eval.answers import extract_answer, infer_kind, is_correct, normalize_label
from laser_plugin.eval.metrics import accuracy_by_domain, arm_share_by_domain, format_table
from laser_plugin.records import read_records

# Answer kinds with a few fixed labels: their accuracy depends on the label mix (a policy that always says
# "no" scores the share of no questions), so they also get a balanced accuracy (mean over labels).
LABELLED_KINDS = frozenset({"yes_no", "choice"})


def _predictions(args: Any) -> list[dict]:
    from laser_plugin.adapters.openrlhf.inference.policy import load_hf_policy, local_strategy
    from laser_plugin.adapters.openrlhf.dpo.data import load_prompts
    from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate

    if args.eval.predictions:
        rows = read_records(args.eval.predictions)
        key, label_key, domain_key = args.eval.response_key, args.data.label_key, args.data.domain_key
        missing = [k for k in (key, label_key) if not k or any(k not in r for r in rows)]
        if missing:
            raise ValueError(f"--eval.predictions rows need the columns {missing} (--eval.response_key, --data.label_key)")
        return [{"response": r[key], "label": r[label_key], "domain": r.get(domain_key) if domain_key else None,
                 "prompt": r.get(args.data.prompt_key)} for r in rows]
    if not args.model.model_name_or_path or not args.data.dataset or not args.data.label_key:
        raise ValueError("evaluate needs --eval.predictions, or --model.model_name_or_path with --data.dataset "
                         "and --data.label_key")
    model, tokenizer = load_hf_policy(args.model.model_name_or_path, args.ds.param_dtype)
    items = load_prompts(args, local_strategy(args), tokenizer)
    r = args.rollout
    cfg = SamplingConfig(r.n_samples_per_prompt, r.temperature, r.top_p, r.max_new_tokens, r.prompt_max_len,
                         r.batch_size, seed=args.train.seed)
    samples = hf_generate(model, tokenizer, [it.prompt for it in items], cfg, desc="evaluate")
    return [{"response": resp, "label": items[p].label, "domain": items[p].domain, "prompt": items[p].raw}
            for p, resp in zip(samples.prompt_index, samples.responses)]


def _arm_share(run_dir: Path) -> dict[str, Any]:
    """Arm share per domain (per prompt and round) from the run's samples.jsonl files."""
    seen, records = set(), []
    for path in sorted(run_dir.glob("rounds/round_*/samples.jsonl")):
        for rec in read_records(path):
            key = (rec["round"], rec["prompt_index"])
            if key not in seen:
                seen.add(key)
                records.append(rec)
    if not records:
        raise FileNotFoundError(f"no rounds/round_*/samples.jsonl under {run_dir} (was it run with --laser.no_save_samples?)")
    summary = run_dir / "laser_summary.json"
    meta = json.loads(summary.read_text()) if summary.exists() else {}
    return {"arm_share_by_domain": arm_share_by_domain(records), "selector": meta.get("selector"),
            "signal": meta.get("signal", meta.get("feedback_signal")),  # feedback_signal: summaries before the rename
            "rounds": len({r["round"] for r in records})}


def evaluate(args: Any) -> dict:
    report: dict[str, Any] = {}
    kind: Optional[str] = args.eval.answer_kind
    if args.eval.predictions or args.model.model_name_or_path:
        preds = _predictions(args)
        for p in preds:
            k = kind or infer_kind(p["label"])
            p["kind"], p["extracted"] = k, extract_answer(p["response"], k)
            p["gold"], p["correct"] = normalize_label(p["label"], k), is_correct(p["response"], p["label"], k)
            p["stratum"] = p["gold"] if k in LABELLED_KINDS else None  # balanced accuracy per label
        acc = accuracy_by_domain(preds)
        report["accuracy_by_domain"] = acc
        report["extraction_rate"] = sum(p["extracted"] is not None for p in preds) / max(len(preds), 1)
        print(format_table([[d, int(v["n"]), v["accuracy"], v.get("balanced_accuracy", "-")] for d, v in acc.items()],
                           ["domain", "n", "accuracy", "balanced accuracy"]))
        print(f"answers extracted from {report['extraction_rate']:.0%} of responses")
        report["predictions"] = preds
    if args.eval.run_dir:
        share = _arm_share(Path(args.eval.run_dir))
        report.update(share)
        by_domain = share["arm_share_by_domain"]
        arms = sorted({a for v in by_domain.values() for a in v})
        print(f"\narm-selection share per domain (selector={share['selector']}, bandit signal="
              f"{share['signal']}, {share['rounds']} rounds)")
        print(format_table([[d] + [v.get(a, 0.0) for a in arms] for d, v in by_domain.items()], ["domain"] + arms))
    if not report:
        raise ValueError("nothing to evaluate: give --eval.predictions, --model.model_name_or_path, or --eval.run_dir")
    if args.eval.output:
        Path(args.eval.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.eval.output).write_text(json.dumps(report, indent=2, default=str))
    return report


__all__ = ["evaluate"]
