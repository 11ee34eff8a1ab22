"""Prompt data through OpenRLHF's loaders: JSONL and save_to_disk datasets, mixtures, chat template,
label and domain columns; in-memory pairs through RewardDataset with their row identity kept."""
import pytest

from tests.adapters.openrlhf.dpo.conftest import mixed_prompts, write_jsonl


def _args(dataset, **data):
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser
    from openrlhf.utils.config import hierarchize

    argv = ["--model.model_name_or_path", "unused", "--data.dataset", str(dataset)]
    for key, value in data.items():
        argv += [f"--data.{key}"] if value is True else [f"--data.{key}", str(value)]
    return hierarchize(build_parser().parse_args(argv))


def test_jsonl_and_hf_dataset_mixture_with_chat_template(cpu_compat, tmp_path, tiny_tokenizer):
    import datasets

    from laser_plugin.adapters.openrlhf.inference.policy import local_strategy
    from laser_plugin.adapters.openrlhf.dpo.data import load_prompts

    jsonl = write_jsonl(tmp_path / "a.jsonl", mixed_prompts(3))
    hf_dir = tmp_path / "hf_ds"
    datasets.Dataset.from_list([{"question": "Is the sky blue?", "gold": "yes"}] * 2).save_to_disk(str(hf_dir))
    args = _args(jsonl, label_key="answer", domain_key="domain", apply_chat_template=True)
    items = load_prompts(args, local_strategy(args), tiny_tokenizer)
    assert [it.domain for it in items] == ["math", "yes_no", "choice"] and items[0].label == "3"
    assert items[0].prompt == "<|user|>What is 1 plus 2?<|end|><|assistant|>" and items[0].raw == "What is 1 plus 2?"
    args = _args(hf_dir, prompt_key="question", label_key="gold", input_template="Q: {}\nA:")
    items = load_prompts(args, local_strategy(args), tiny_tokenizer)
    assert len(items) == 2 and items[0].prompt == "Q: Is the sky blue?\nA:" and items[0].domain == "default"
    both = _args(f"{jsonl},{jsonl}", label_key="answer", domain_key="domain")
    assert len(load_prompts(both, local_strategy(both), tiny_tokenizer)) == 6
    with pytest.raises(ValueError, match="prompt_key"):
        bad = _args(jsonl, prompt_key="nope")
        load_prompts(bad, local_strategy(bad), tiny_tokenizer)


def test_pairs_go_through_reward_dataset_with_their_index(cpu_compat, tiny_tokenizer):
    from laser_plugin.adapters.openrlhf.inference.policy import local_strategy
    from laser_plugin.adapters.openrlhf.dpo.data import pair_dataset, prompt_fits
    from laser_plugin.adapters.openrlhf.dpo.data import tag_collate

    rows = [{"prompt": f"<|user|>q{i}<|end|><|assistant|>", "chosen": f"good {i}", "rejected": "bad"} for i in range(3)]
    ds = pair_dataset(rows, tiny_tokenizer, 64, local_strategy(None))
    assert len(ds) == 3 and ds[2][0] == 2
    chosen, c_mask, rejected, r_mask, lens = tag_collate(ds.inner.collate_fn)([ds[2], ds[0]])
    assert lens.rows == (2, 0) and chosen.shape[0] == 2
    # the chosen text is prompt + response + eos, as OpenRLHF's DPO data
    ids, mask = chosen.reshape(2, -1)[0], c_mask.reshape(2, -1)[0].bool()
    assert tiny_tokenizer.decode(ids[mask]).replace(" ", "").startswith("<|user|>q2<|end|><|assistant|>good2")
    assert prompt_fits(tiny_tokenizer, "short", 64) and not prompt_fits(tiny_tokenizer, "word " * 100, 64)
