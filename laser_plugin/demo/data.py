"""Quickstart prompts from three domains with checkable answers or clear quality criteria, and the
gold metric of each domain (used for evaluation only, never shown to the bandit).

* ``math``: reasoning-gym ``basic_arithmetic`` (two small terms); gold: reasoning-gym's verifier.
* ``yes_no``: seeded number comparisons / parity questions; gold: the extracted yes/no is right.
* ``writing``: "one short, cheerful sentence about TOPIC" with a reference sentence as label; gold:
  positive (VADER compound >= 0.5), short (<= 30 words) and on topic (mentions it).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from laser_plugin.cli_fields import option

DOMAINS = ("math", "yes_no", "writing")
TOPICS = ("the sea", "spring", "coffee", "music", "a garden", "the moon", "friends", "a library", "rain",
          "the mountains", "a bicycle", "bread", "a puppy", "the city", "snow", "a river", "books", "tea",
          "the sunrise", "a picnic", "trees", "the beach", "a concert", "summer", "a kitten", "the stars",
          "pizza", "a holiday", "the park", "chocolate", "a birthday", "the ocean", "flowers", "a song",
          "autumn", "a lake", "the weekend", "a smile", "breakfast", "the forest",
          # added for 24 held-out writing prompts beside 27 training ones (bench_learning_quality's preset)
          "a sandcastle", "lemonade", "the lighthouse", "a kite", "strawberries", "a bakery", "the aquarium",
          "a snowman", "sunflowers", "a hammock", "the village", "a carousel", "cookies", "a butterfly", "the orchard",
          "a parade", "cherry blossoms", "a sunset", "dolphins", "the playground", "a treehouse", "honey",
          "the valley", "a lantern")
# topics for router-training prompts only (router_rows): none is in TOPICS, so none is ever evaluated
ROUTER_TOPICS = ("a waterfall", "the desert", "a train ride", "pancakes", "a violin", "the harbor", "a meadow",
                 "fireworks", "a sailboat", "the countryside", "a rainbow", "ice cream", "a festival", "a campfire",
                 "the zoo", "a museum",
                 # added for the benchmark's default preset: router prompts per domain = eval_per_domain (24)
                 "a windmill", "a canoe", "gingerbread", "a greenhouse", "the boardwalk", "a hot air balloon",
                 "a farmers market", "a rocking chair")
WRITING_MAX_WORDS = 30
POSITIVE = 0.5


@dataclass
class DataConfig:
    train_per_domain: int = option(16, "training prompts per domain")
    eval_per_domain: int = option(16, "held-out gold prompts per domain")
    domains: tuple[str, ...] = option(DOMAINS, "prompt domains", choices=DOMAINS)
    seed: int = 0  # not an option: the caller's seed

    def __post_init__(self) -> None:
        self.domains = tuple(self.domains)
        unknown = [d for d in self.domains if d not in DOMAINS]
        if unknown or not self.domains:
            raise ValueError(f"domains must be a non-empty subset of {DOMAINS}, got {self.domains}")
        if self.train_per_domain < 1 or self.eval_per_domain < 1:
            raise ValueError("train_per_domain and eval_per_domain must be >= 1")
        if "writing" in self.domains and self.train_per_domain + self.eval_per_domain > len(TOPICS):
            raise ValueError(f"writing has {len(TOPICS)} topics: train + eval per domain must not exceed that")


def _math(n: int, seed: int) -> list[dict]:
    import reasoning_gym as rg

    ds = rg.create_dataset("basic_arithmetic", size=8 * n, seed=seed, min_terms=2, max_terms=2, min_digits=1,
                           max_digits=2, operators=("+",), allow_negation=False)
    # additions of non-negative terms only: the shared extractor reads "answer is -11" as 11
    rows = [{"prompt": f"{e['question']} Reply with the number only.", "answer": str(e["answer"]),
             "domain": "math"} for e in ds if "-" not in e["question"]]
    if len(rows) < n:
        raise ValueError(f"reasoning-gym gave {len(rows)} usable arithmetic prompts, {n} needed")
    return rows[:n]


def _yes_no(n: int, rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(n):
        a, b = rng.sample(range(2, 60), 2)
        kind = rng.randrange(3)
        if kind == 0:
            q, ans = f"Is {a} greater than {b}?", a > b
        elif kind == 1:
            q, ans = f"Is {a} less than {b}?", a < b
        else:
            q, ans = f"Is {a} an even number?", a % 2 == 0
        rows.append({"prompt": f"{q} Answer yes or no.", "answer": "yes" if ans else "no", "domain": "yes_no"})
    return rows


def _writing(topics: list[str]) -> list[dict]:
    return [{"prompt": f"Write one short, cheerful sentence about {t}.",
             "answer": f"I love {t}; it always makes me happy and brings a wonderful, joyful feeling.",
             "domain": "writing"} for t in topics]


def build(cfg: DataConfig) -> tuple[list[dict], list[dict]]:
    """(train, eval) rows with prompt / answer / domain, sorted by domain (seeded, disjoint)."""
    rng = random.Random(cfg.seed)
    n = cfg.train_per_domain + cfg.eval_per_domain
    topics = list(TOPICS)
    rng.shuffle(topics)
    make = {"math": lambda: _math(n, cfg.seed), "yes_no": lambda: _yes_no(n, rng), "writing": lambda: _writing(topics[:n])}
    train, evals = [], []
    for d in cfg.domains:
        rows = make[d]()
        train += rows[:cfg.train_per_domain]
        evals += rows[cfg.train_per_domain:]
    return train, evals


def router_rows(per_domain: int, seed: int, exclude: set[str], domains: tuple[str, ...] = DOMAINS) -> list[dict]:
    """Prompts for training an offline router (BayesianRouter's prior) on the same domains, none of
    whose prompt texts is in ``exclude`` (the train and eval prompts): its gold labels may then be
    used offline without ever touching the evaluation prompts."""
    rng = random.Random(seed)
    make = {"math": lambda: _math(4 * per_domain, seed), "yes_no": lambda: _yes_no(4 * per_domain, rng),
            "writing": lambda: _writing(list(ROUTER_TOPICS))}
    rows, seen = [], set(exclude)
    for d in domains:
        fresh = [r for r in make[d]() if r["prompt"] not in seen and not seen.add(r["prompt"])]
        if len(fresh) < per_domain:
            raise ValueError(f"only {len(fresh)} router prompts for {d} outside the excluded ones, {per_domain} asked")
        rows += fresh[:per_domain]
    return rows


def write(cfg: DataConfig, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in zip(("train", "eval"), build(cfg)):
        path = out_dir / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1]


def gold(response: str, label: Optional[str], domain: str) -> float:
    """1.0 when the response meets the domain's gold criterion, else 0.0."""
    from laser_plugin.demo.scorers import sentiment, verify, word_count

    if domain == "writing":
        topic = str(label or "").split(";")[0].replace("I love ", "").strip().lower()
        key = topic.split()[-1] if topic else ""
        ok = sentiment(response) >= POSITIVE and word_count(response) <= WRITING_MAX_WORDS and key in response.lower()
        return float(ok)
    return verify(response, label)


# Classification domains, scored by balanced accuracy (the mean over labels of each label's accuracy): a
# policy that gives one answer to every prompt then scores 0.5 whatever the held-out label mix. Plain
# accuracy on the benchmark's 15 "no" / 9 "yes" held-out prompts scored such a policy 0.625 or 0.375 by
# its word; SmolLM2-135M starts answering "No" to 23 of them, and ends with one word in every row.
LABEL_BALANCED = frozenset({"yes_no"})


def gold_values(records: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per domain, per stratum (the label in a ``LABEL_BALANCED`` domain, else ""), the per-prompt gold of
    records with response / label / domain (a record's own "gold", where it has one, is used as it is)."""
    per: dict[str, dict[str, list[float]]] = {}
    for r in records:
        value = r["gold"] if "gold" in r else gold(r["response"], r["label"], r["domain"])
        stratum = str(r["label"]) if r["domain"] in LABEL_BALANCED else ""
        per.setdefault(r["domain"], {}).setdefault(stratum, []).append(float(value))
    return {d: dict(sorted(v.items())) for d, v in sorted(per.items())}


def gold_rows(records: list[dict[str, Any]]) -> dict[str, float]:
    """Gold per domain (balanced accuracy in a ``LABEL_BALANCED`` domain, else the mean) and 'all': the
    mean over domains."""
    from laser_plugin.eval.metrics import stratified_mean

    out = {d: stratified_mean(strata) for d, strata in gold_values(records).items()}
    if out:
        out["all"] = sum(out.values()) / len(out)
    return out
