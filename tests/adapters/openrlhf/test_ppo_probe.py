"""The PPO/GRPO probe signal's pairs: file checks, the rollout-shaped tensors, and the credit.

The actor's remote forward (a Ray actor group) is replaced by a function of the rows here, so the
layout and the arithmetic are checked; the real forward runs in
tests/adapters/openrlhf/test_ppo_laser_e2e.py (``--reward_selector.signal probe``)."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from laser_plugin.adapters.openrlhf.ppo.probe import PolicyProbe, probe_tensors, read_probe_rows
from laser_plugin.signals import probe_value

ARGS = SimpleNamespace(data=SimpleNamespace(input_key="prompt", input_template=None, apply_chat_template=False))


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_probe_rows_are_checked_with_the_flag_and_the_fix(tmp_path):
    good = _write(tmp_path / "p.jsonl", [{"prompt": "2+2=", "chosen": "4", "rejected": "5"}])
    assert read_probe_rows(good, "prompt")[0]["chosen"] == "4"
    with pytest.raises(ValueError, match=r"row 0 lacks \['rejected'\].*--data.input_key"):
        read_probe_rows(_write(tmp_path / "q.jsonl", [{"prompt": "a", "chosen": "b"}]), "prompt")
    with pytest.raises(ValueError, match=r"row 0 lacks \['context'\]"):
        read_probe_rows(good, "context")
    with pytest.raises(ValueError, match="cannot read it as JSON/JSONL"):
        read_probe_rows(str(tmp_path / "missing.jsonl"), "prompt")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ValueError, match="holds no pairs"):
        read_probe_rows(str(tmp_path / "empty.jsonl"), "prompt")


def test_probe_tensors_are_laid_out_like_rollouts(tiny_tokenizer):
    pairs = [("What is 2 plus 2?", "4", "five hundred"), ("Hi", "hello there friend", "no")]
    t = probe_tensors(pairs, tiny_tokenizer)
    seqs, att, act = t["sequences"], t["attention_mask"], t["action_mask"]
    assert seqs.shape[0] == 4 and act.shape[1] == seqs.shape[1] - max(
        len(tiny_tokenizer(p, add_special_tokens=False)["input_ids"]) for p, _, _ in pairs)
    for i, response in enumerate(["4", "hello there friend", "five hundred", "no"]):  # chosen rows, then rejected
        ids = tiny_tokenizer(response, add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
        n = int(act[i].sum())
        assert n == len(ids) and act[i, :n].all()  # the response leads the action positions, padding after
        start = seqs.shape[1] - act.shape[1]
        assert seqs[i, start:start + n].tolist() == ids and att[i, start:start + n].all()
        assert not att[i, start + n:].any()
    assert att[1, 0] == 0 and att[1, seqs.shape[1] - act.shape[1] - 1] == 1  # the short prompt is left-padded


def test_probe_credit_pays_every_decision_of_the_step_the_rise(tmp_path, tiny_tokenizer):
    from laser_plugin.adapters.openrlhf.ppo.experience import LaserExperienceMaker

    path = _write(tmp_path / "p.jsonl", [{"prompt": "2+2=", "chosen": "4", "rejected": "five"},
                                         {"prompt": "Sky?", "chosen": "blue", "rejected": "green!"}])
    probe = PolicyProbe(path, ARGS, tiny_tokenizer, chunks=2)
    assert len(probe.chunks) == 2 and probe.num_pairs == 2
    per_token = iter([(-1.0, -1.0), (-0.5, -2.0)])  # (chosen, rejected) log-prob per token: before, after

    def forward(chunks):  # stand-in for the actor's remote forward: a constant log-prob per token
        c, r = next(per_token)
        rows = torch.cat([x.action_mask for x in chunks]).float()
        values = torch.cat([torch.full((2, 1), c), torch.full((2, 1), r)]) * rows
        return list(values.split([len(x.sequences) for x in chunks]))

    lengths = torch.cat([x.action_mask for x in probe.chunks]).sum(-1).numpy()
    maker = object.__new__(LaserExperienceMaker)
    maker._probe, maker._policy_log_probs = probe, forward
    maker._probe_value = probe.value(forward)
    maker._step_experiences = [SimpleNamespace(laser_decisions=np.array([3, 3, 4, 4])),
                               SimpleNamespace(laser_decisions=np.array([5, 5]))]
    ids, values = maker._probe_credit()
    # the first measurement is the reference (ratios 0: -log 2); after: chosen +0.5, rejected -1 per token
    before, after = -np.log(2.0), probe_value(0.5 * lengths[:2], -1.0 * lengths[2:])
    assert maker._probe.reference.tolist() == (-1.0 * lengths).tolist()
    assert ids.tolist() == [3, 4, 5] and values == pytest.approx([after - before] * 3) and after > before
    assert maker._probe_value == pytest.approx(after)  # the next step starts from here
