"""`laser-plugin agreement` on a small hand-made set: the matrix, gold accuracy per domain, heatmap."""
import json

import numpy as np

from laser_plugin.cli import main
from laser_plugin.demo.arms import arm_path
from laser_plugin.demo.data import DataConfig, build, gold
from laser_plugin.quickstart.arm_agreement import agreement


def _rows():
    rows = [{"prompt": "Calculate 5 + 3.", "response": r, "label": "8", "domain": "math"}
            for r in ("8", "The answer is 9. What a wonderful, happy question!", "It is 8.")]
    rows += [{"prompt": "Write one short, cheerful sentence about tea.", "response": r, "domain": "writing",
              "label": "I love tea; it always makes me happy and brings a wonderful, joyful feeling."}
             for r in ("Tea is great and makes me happy!", "Tea is a drink made from leaves.", "Tea is awful.")]
    return rows


def _pool():
    return ",".join(f"func:{arm_path(n)}@{n}" for n in ("verifier", "sentiment", "length"))


def test_agreement_matrix_and_gold_accuracy():
    rep = agreement(_rows(), _pool(), gold=lambda r: gold(r["response"], r["label"], r["domain"]))
    assert rep.names == ["verifier", "sentiment", "length", "gold"] and rep.pairs == 6
    assert np.allclose(np.diag(rep.matrix), 1) and np.allclose(rep.matrix, rep.matrix.T)
    # the verifier is right on math, sentiment misleads there and is right on writing
    assert rep.gold_accuracy["math"]["verifier"] == 1.0 and rep.gold_accuracy["math"]["sentiment"] == 0.0
    assert rep.gold_accuracy["writing"]["sentiment"] == 1.0 and rep.gold_accuracy["writing"]["verifier"] == 0.0
    # the verifier ties every writing pair (no checkable answer): no opinion, 1/2 with ties counted half
    assert rep.gold_ties["writing"]["verifier"] == 1.0 and rep.tie_half_accuracy("writing")["verifier"] == 0.5
    # over domains: verifier (1 + 1/2) / 2 = 0.75 beats sentiment (0 + 1) / 2 = 0.5 and length
    acc = {d: rep.tie_half_accuracy(d) for d in ("math", "writing")}
    assert rep.best_arm() == "verifier", acc


def test_agreement_command_writes_table_and_heatmap(tmp_path, capsys):
    data = tmp_path / "samples.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    assert main(["agreement", "--data", str(data), "--pool", _pool(), "--gold", "--output", str(tmp_path / "agr")]) == 0
    assert "| verifier |" in capsys.readouterr().out
    assert (tmp_path / "agr.png").stat().st_size > 0 and "gold" in (tmp_path / "agr.md").read_text()


def test_demo_data_is_seeded_disjoint_and_sorted_by_domain():
    train, evals = build(DataConfig(train_per_domain=5, eval_per_domain=3, seed=1))
    assert [r["domain"] for r in train] == ["math"] * 5 + ["yes_no"] * 5 + ["writing"] * 5
    assert len(evals) == 9 and not {r["prompt"] for r in train} & {r["prompt"] for r in evals}
    assert build(DataConfig(train_per_domain=5, eval_per_domain=3, seed=1)) == (train, evals)
