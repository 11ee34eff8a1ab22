"""Data for the iterative DPO loop through OpenRLHF's own dataset code.

* prompts: ``blending_datasets`` (JSONL/JSON/parquet files, ``save_to_disk`` folders, HF datasets,
  comma-separated mixtures with ``--data.dataset_probs``) and ``prompts_dataset.preprocess_data``
  (``--data.prompt_key``, ``--data.label_key``, ``--data.apply_chat_template``,
  ``--data.input_template``); an optional domain column is kept for analysis;
* pairs: built in memory, fed through ``RewardDataset(is_dpo=True)`` unchanged, wrapped so each item
  also carries its index (the trainer credits losses to the decision of each row).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Optional

from torch.utils.data import Dataset



@dataclass
class PromptItem:
    index: int
    prompt: str  # formatted as the policy sees it (chat template / input template applied)
    raw: Any  # the dataset's prompt field (for RMs with their own chat template)
    label: Any
    domain: str
    row: Optional[dict] = None  # the whole dataset row, when asked for (best-of-N candidates)


class RowTaggedLens(list):
    """``prompt_id_lens`` (a list of ints) carrying the dataset indices of its rows."""

    rows: tuple[int, ...] = ()

    def __reduce__(self):  # survive DataLoader worker pickling with the tag
        return (_tagged, (list(self), tuple(self.rows)))


def _tagged(values: list, rows: tuple) -> RowTaggedLens:
    out = RowTaggedLens(values)
    out.rows = rows
    return out


def tag_collate(collate_fn: Callable) -> Callable:
    """Wrap RewardDataset.collate_fn for a dataset whose items are (index, item)."""

    def collate(items: list) -> tuple:
        idx = [i for i, _ in items]
        chosen, c_mask, reject, r_mask, lens = collate_fn([item for _, item in items])
        return chosen, c_mask, reject, r_mask, _tagged(list(lens), tuple(idx))

    return collate


def load_prompts(args: Any, strategy: Any, tokenizer: Any, dataset: Optional[str] = None,
                 split: Optional[str] = None, max_samples: Optional[int] = None,
                 keep_rows: bool = False) -> list[PromptItem]:
    from openrlhf.datasets.prompts_dataset import preprocess_data
    from openrlhf.datasets.utils import blending_datasets

    data = blending_datasets(dataset or args.data.dataset, None if dataset else args.data.dataset_probs, strategy,
                             args.train.seed, max_count=max_samples or args.data.max_samples,
                             dataset_split=split or args.data.dataset_split)
    key, label_key, domain_key = args.data.prompt_key, args.data.label_key, args.data.domain_key
    if key not in data.column_names:
        raise ValueError(f"--data.prompt_key {key!r} is not a column of {dataset or args.data.dataset} "
                         f"(columns: {data.column_names})")
    if label_key and label_key not in data.column_names:
        raise ValueError(f"--data.label_key {label_key!r} is not a column (columns: {data.column_names})")
    template = tokenizer.apply_chat_template if args.data.apply_chat_template else None
    items = []
    for i, row in enumerate(data):
        prompt, label = preprocess_data(row, args.data.input_template, key, label_key, template)
        domain = str(row.get(domain_key) or "default") if domain_key else "default"
        items.append(PromptItem(i, prompt, row[key], label if label_key else None, domain,
                                dict(row) if keep_rows else None))
    if not items:
        raise ValueError(f"no prompts in {dataset or args.data.dataset}")
    return items


class _IndexedPairs(Dataset):
    def __init__(self, inner: Dataset) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, idx: int):
        return idx, self.inner[idx]


def pair_dataset(rows: list[dict], tokenizer: Any, max_len: int, strategy: Any) -> Dataset:
    """OpenRLHF's RewardDataset over in-memory {"prompt", "chosen", "rejected"} rows whose prompt is
    already formatted; items are (index, item). Rows must not be filtered by RewardDataset (their
    index is their identity), so the caller drops too-long prompts first (``prompt_fits``)."""
    import datasets
    from openrlhf.datasets import RewardDataset

    # RewardDataset reads its keys from strategy.args.data; the pairs have fixed keys and formatted
    # prompts, so it gets a view of the args with exactly that (the user's chat-template flag
    # applied to the prompts already).
    view = SimpleNamespace(args=SimpleNamespace(data=SimpleNamespace(
        prompt_key="prompt", chosen_key="chosen", rejected_key="rejected", apply_chat_template=False)),
        is_rank_0=strategy.is_rank_0, print=strategy.print)
    ds = RewardDataset(datasets.Dataset.from_list(rows), tokenizer, max_len, view, is_dpo=True, num_processors=1)
    if len(ds) != len(rows):
        raise RuntimeError(f"RewardDataset dropped {len(rows) - len(ds)} pairs; prompts must fit max_len")
    return _IndexedPairs(ds)


def prompt_fits(tokenizer: Any, prompt: str, max_len: int) -> bool:
    """RewardDataset's own filter: the prompt must leave >= 2 tokens of room in max_len."""
    return len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) < max_len - 2


def pair_loader(dataset: _IndexedPairs, sampler: Any, micro_batch_size: int, strategy: Any, num_workers: int = 0):
    """OpenRLHF's dataloader (StatefulDataLoader) over the pairs in the given order, rows tagged."""
    return strategy.setup_dataloader(dataset, micro_batch_size, pin_memory=False, shuffle=False,
                                     collate_fn=tag_collate(dataset.inner.collate_fn), drop_last=True,
                                     sampler=sampler, num_workers=num_workers)


def probe_batches(path: str, args: Any, strategy: Any, tokenizer: Any, micro_batch_size: int) -> list:
    """The probe set as collated batches, read once: rows with the prompt column (formatted like the
    training prompts) and plain-text ``--data.chosen_key`` / ``--data.rejected_key`` responses."""
    from openrlhf.datasets.prompts_dataset import preprocess_data
    from openrlhf.datasets.utils import blending_datasets

    data = blending_datasets(path, None, strategy, args.train.seed, dataset_split=args.data.dataset_split)
    template = tokenizer.apply_chat_template if args.data.apply_chat_template else None
    rows = []
    for row in data:
        prompt, _ = preprocess_data(row, args.data.input_template, args.data.prompt_key, None, template)
        if prompt_fits(tokenizer, prompt, args.data.max_len):
            rows.append({"prompt": prompt, "chosen": row[args.data.chosen_key], "rejected": row[args.data.rejected_key]})
    if not rows:
        raise ValueError(f"probe set {path} holds no usable pairs")
    ds = pair_dataset(rows, tokenizer, args.data.max_len, strategy).inner
    items = [ds[i] for i in range(len(ds))]
    return [ds.collate_fn(items[i:i + micro_batch_size]) for i in range(0, len(items), micro_batch_size)]


__all__ = ["PromptItem", "load_prompts", "pair_dataset", "pair_loader", "probe_batches", "prompt_fits"]
