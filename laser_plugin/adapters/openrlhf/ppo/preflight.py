"""Everything about a ``--reward_selector`` launch that can be checked before Ray starts.

Both ways in call :func:`preflight` right after the command line is parsed (the launcher with
upstream's own parser, see ``cli.py``; the patched CLI after ``hierarchize``), so a bad plugin
input costs seconds, not a Ray start and a model load:

* the selector config: name, every ``--reward_selector.<option>`` (built once with the pool's K
  and d, so ``alpha -1`` or an option the selector lacks fails here), the signal normaliser, the
  context encoder, a router prior file;
* the pool spec: syntax, ``hf:`` local paths (exists, a checkpoint directory with config and
  weights; a hub id is left to the hub), ``func:`` files (exist, import, define ``reward_func``),
  ``http(s)://`` syntax, ``--reward_selector.verifier`` naming an arm;
* the plugin against upstream's flags: granularity vs ``--rollout.micro_batch_size`` /
  ``--rollout.n_samples_per_prompt`` / ``--train.dynamic_batch_enable`` / dynamic filtering (a line
  that cannot have one decision per micro-batch gets one per prompt group when the granularity was
  left at its default, with a printed note, and is refused when ``batch`` was asked for), signals
  that need prompt groups (the default one falls back to ``loss`` with a note), options that replace
  the pool.

Every error is a ``ValueError`` naming the flag and the fix; both entry points turn it into exit
code 2. What needs the workers (loading RM weights, reaching an endpoint) keeps its own message there.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Optional

from laser_plugin.config import GROUP_SIGNALS, POOL_SENTINEL, LaserConfig

# Upstream's advantage estimators with a per-prompt-group baseline (openrlhf experience_maker).
GROUP_ESTIMATORS = ("rloo", "reinforce_baseline", "group_norm", "dr_grpo")
# A hub repo id: "name" or "org/name" (what huggingface_hub accepts), never a path-like string.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_WEIGHTS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin", "*.pt")


def _looks_local(target: str) -> bool:
    """A path (absolute, relative with ./ ../ ~, existing, or not a valid hub id) rather than a hub id."""
    return target.startswith(("/", "./", "../", "~")) or Path(target).expanduser().exists() or not _HUB_ID.match(target)


def check_hf_path(target: str, what: str, need_weights: bool = True) -> None:
    """A local checkpoint directory must exist and hold a config (and weights); a hub id passes."""
    if not _looks_local(target):
        return  # a hub repo id: resolved (or refused) by the hub on the workers
    path = Path(target).expanduser()
    if not path.exists():
        raise ValueError(f"{what}: the local path {target} does not exist; give an existing checkpoint "
                         "directory (or a hub repo id such as 'org/name')")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ValueError(f"{what}: {target} is not a Hugging Face checkpoint directory (no config.json in it)")
    if need_weights and not any(next(path.glob(p), None) for p in _WEIGHTS):
        raise ValueError(f"{what}: {target} holds no weights (*.safetensors or pytorch_model*.bin)")


def check_pool(config: LaserConfig) -> list:
    """Parse and check ``--reward_pool``; returns the arm specs."""
    from laser_plugin.pool.arms import FuncArm
    from laser_plugin.pool.specs import parse_pool_spec

    try:
        specs = parse_pool_spec(config.pool)
    except ValueError as err:
        raise ValueError(f"--reward_pool {config.pool!r}: {err}") from None
    for spec in specs:
        what = f"--reward_pool arm {spec.name!r} ({spec.kind}:{spec.target})"
        if spec.kind == "hf":
            check_hf_path(spec.target, what)
            if spec.tokenizer_path:
                check_hf_path(spec.tokenizer_path, what + " tokenizer_path", need_weights=False)
        elif spec.kind == "func":
            if not Path(spec.target).is_file():
                raise ValueError(f"{what}: the file {spec.target} does not exist; give the path of a .py file "
                                 "defining reward_func(queries, prompts, labels, **kwargs)")
            try:
                FuncArm(spec).validate()  # imports the file the way OpenRLHF's agent executor does
            except Exception as err:  # noqa: BLE001 - any import-time failure of the user's file
                raise ValueError(f"{what}: {spec.target} cannot be used as a reward function: "
                                 f"{type(err).__name__}: {err}") from None
    return specs


def check_selector(config: LaserConfig, specs: list) -> None:
    """Build the selector, signal normaliser and context encoder once, as the PPO trainer will."""
    from laser_plugin import make_selector
    from laser_plugin.core.signal_norm import make_signal_norm

    options = dict(config.selector_options)
    try:
        make_selector(config.selector, num_arms=len(specs), dim=config.context_dim, seed=config.seed, **options)
    except (ValueError, TypeError, FileNotFoundError, OSError) as err:
        flags = ", ".join(f"--reward_selector.{k} {v}" for k, v in options.items()) or "(no options)"
        raise ValueError(f"--reward_selector {config.selector} {flags}: {err} "
                         "(the launch line's --help lists each option and the selectors that take it)") from None
    prior = options.get("prior")
    if prior:
        from laser_plugin.router.prior import check_pool_prior

        try:
            check_pool_prior(options, [s.name for s in specs], config.context_dim, config.context_encoder, config.seed)
        except Exception as err:  # noqa: BLE001 - unreadable or mismatching router file
            raise ValueError(f"--reward_selector.prior {prior}: {err}") from None
    try:
        make_signal_norm(config.signal_norm)
    except ValueError as err:
        raise ValueError(f"--reward_selector.signal_norm {config.signal_norm!r}: {err}") from None
    encoder = config.context_encoder
    if encoder != "hashing":
        if not encoder.startswith("hf:") or len(encoder) <= 3:
            raise ValueError(f"--reward_selector.context_encoder {encoder!r}: valid values are 'hashing' or 'hf:PATH'")
        check_hf_path(encoder[3:], f"--reward_selector.context_encoder {encoder}")
    names = [s.name for s in specs]
    if config.verifier is not None and config.verifier not in names:
        raise ValueError(f"--reward_selector.verifier {config.verifier!r} is not an arm of --reward_pool "
                         f"(arms: {', '.join(names)}); name one of them (an arm is named with @NAME)")


def _get(args: Any, dotted: str, default: Any = None) -> Any:
    node = args
    for part in dotted.split("."):
        node = getattr(node, part, None)
        if node is None:
            return default
    return node


def check_upstream(config: LaserConfig, args: Any) -> None:
    """The plugin against upstream's (hierarchized) train_ppo_ray args."""
    if _get(args, "reward.remote_url") or _get(args, "train.agent_func_path"):
        raise ValueError(
            "--reward_selector replaces OpenRLHF's reward model: drop --reward.remote_url / "
            "--train.agent_func_path and list those scorers in --reward_pool (http://... or func:FILE.py)"
        )
    if _get(args, "algo.advantage.estimator") == "gae" and not _get(args, "critic.model_name_or_path"):
        raise ValueError("PPO with GAE needs --critic.model_name_or_path when --reward_selector is on "
                         "(upstream would initialise the critic from the single RM, which the pool replaces)")
    if _get(args, "eval.dataset"):
        raise ValueError("--eval.dataset: upstream scores evaluation prompts only through --reward.remote_url / "
                         "--train.agent_func_path, which the pool replaces; drop --eval.dataset when "
                         "--reward_selector is on (evaluate checkpoints with laser-plugin evaluate)")
    n = int(_get(args, "rollout.n_samples_per_prompt", 1))
    micro = int(_get(args, "rollout.micro_batch_size", 1))
    estimator = _get(args, "algo.advantage.estimator")
    dynamic_batch = bool(_get(args, "train.dynamic_batch_enable", False))
    filtering = bool(_get(args, "algo.dynamic_filtering_enable", False))
    if config.granularity == "batch":
        reason = None  # why one decision per micro-batch cannot work for this line
        if filtering:
            reason = ("--algo.dynamic_filtering_enable scores each prompt group as soon as it is generated "
                      "(to filter it), so one decision per micro-batch cannot exist")
        elif n > 1 and estimator in GROUP_ESTIMATORS and dynamic_batch:
            reason = (f"--train.dynamic_batch_enable regroups samples by length, so a --reward_selector.granularity "
                      f"batch decision would cut prompt groups of {estimator} (one group scored by two arms)")
        elif n > 1 and estimator in GROUP_ESTIMATORS and micro % n:
            reason = (f"--rollout.micro_batch_size {micro} is not a multiple of --rollout.n_samples_per_prompt {n}: "
                      f"with --reward_selector.granularity batch a prompt group would be scored by two arms, which "
                      f"corrupts {estimator}'s group baseline")
        if reason and config.granularity_given:
            fix = f", or use --rollout.micro_batch_size {max(n, micro // n * n)}" if "micro_batch_size" in reason else ""
            raise ValueError(f"{reason}; use --reward_selector.granularity group (one decision per prompt group){fix}")
        if reason:  # granularity left at its default: give the line the decisions it can have
            config.granularity = "group"
            print(f"[laser_plugin] --reward_selector.granularity group (one decision per prompt group): {reason}. "
                  "Set --reward_selector.granularity to choose explicitly.", file=sys.stderr)
    if config.signal in GROUP_SIGNALS and n < 2:
        if config.signal_given:
            raise ValueError(f"--reward_selector.signal {config.signal} learns from prompt groups: it needs "
                             f"--rollout.n_samples_per_prompt > 1 (got {n}); use --reward_selector.signal loss")
        config.signal = "loss"  # the default signals compare responses of one prompt: none here
        print("[laser_plugin] --reward_selector.signal loss: one sample per prompt leaves no group to compare "
              "responses in. Set --reward_selector.signal to choose explicitly.", file=sys.stderr)
    if config.signal == "probe":
        from laser_plugin.adapters.openrlhf.ppo.probe import read_probe_rows

        read_probe_rows(config.probe_dataset, _get(args, "data.input_key", "input"))
    if config.explore_by not in (None, "training"):
        # iterative DPO drops the pairs of a decision that abstains; a PPO/GRPO batch has no such hook yet
        raise ValueError(f"--reward_selector.explore_by {config.explore_by}: PPO/GRPO trains on the pick's rewards "
                         "(explore_by scoring|none is built and measured for laser-plugin iterative-dpo only); use "
                         "--reward_selector.explore_by training (or leave it out)")
    if filtering:
        low, high = _get(args, "algo.dynamic_filtering_range", (0, 1))
        if not float(low) < float(high):
            raise ValueError(f"--algo.dynamic_filtering_range {low} {high}: the low bound must be below the high one")
        if n < 2:
            raise ValueError("--algo.dynamic_filtering_enable filters prompt groups: it needs "
                             "--rollout.n_samples_per_prompt > 1")
        if _get(args, "train.async_enable", False):
            raise ValueError("--algo.dynamic_filtering_enable with --train.async_enable generates in a separate "
                             "actor, away from the bandit; with --reward_selector drop one of the two")


def preflight(config: Optional[LaserConfig], args: Any = None) -> list:
    """All checks that need no worker; ``args``: upstream's hierarchized args when known."""
    if config is None:
        return []
    specs = check_pool(config)
    check_selector(config, specs)
    if args is not None:
        check_upstream(config, args)
    return specs


def check_upstream_args(args: Any) -> None:
    """``check_upstream`` from inside a Ray worker: the config comes from the environment (the launcher
    activates before upstream parses its args, so this runs again once they exist)."""
    config = LaserConfig.from_env()
    check_upstream(config if config is not None else LaserConfig(pool=POOL_SENTINEL), args)
