"""The ``--reward_selector`` flag family, in OpenRLHF's dotted style.

    --reward_selector laser --reward_pool "hf:/rm1,hf:/rm2,func:verify.py"
    --reward_selector.alpha 0.5 --reward_selector.granularity group --reward_selector.signal group_variance

``--reward_selector`` is stored under the dest ``reward_selector.name`` so that OpenRLHF's
``hierarchize`` builds ``args.reward_selector.{name,alpha,...}`` without a name clash between the
selector name and its options. Used by the patched CLI (added to upstream's parser) and by the
launcher (parsed out of argv before the upstream module runs): one definition for both.
"""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any, Optional, Sequence

from laser_plugin.config import SIGNALS, LaserConfig
from laser_plugin.core.granularity import GRANULARITIES

PREFIX = "reward_selector."
# Plugin-level options (LaserConfig fields) exposed as --reward_selector.<name>.
_PLUGIN_OPTIONS: dict[str, tuple[type, str]] = {
    "granularity": (str, f"one decision per micro-batch or per prompt group: {'|'.join(GRANULARITIES)}"),
    "feedback": (str, "bandit-reward normaliser: quantile (LASeR q20/q80), baseline, zscore, '+'-joined, none"),
    "signal": (str, f"what the bandit learns from: {'|'.join(SIGNALS)}"),
    "verifier": (str, "arm name whose scores are ground truth for --reward_selector.signal verifier"),
    "audit_share": (float, "share of decisions every arm scores under --reward_selector.signal audit "
                           "(default 0.25/(K-1): scoring <= 1.25x one arm)"),
    "context_encoder": (str, "context features: hashing (prompt text) or hf:PATH (a small encoder model)"),
    "context_dim": (int, "context dimension d (incl. the bias feature)"),
    "seed": (int, "seed of the selector's RNG and the context projection"),
    "residency": (int, "how many RMs stay on the device at once (others are offloaded, LRU)"),
    "quarantine_s": (float, "seconds an arm that returned NaN/inf or kept failing is excluded"),
    "state_dir": (str, "where bandit states are saved (default: under --ckpt.path)"),
}


def selector_option_names() -> list[str]:
    """Every option any registered selector accepts (validated per selector by make_selector)."""
    from laser_plugin.core.registry import selector_option_names as core_option_names

    return sorted(set(core_option_names()) - set(_PLUGIN_OPTIONS))


def add_laser_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("laser_plugin (bandit-selected reward model pool)")
    group.add_argument(
        "--reward_selector", dest=PREFIX + "name", default=None, metavar="NAME",
        help="select one reward model per micro-batch with this bandit (e.g. laser, thompson, "
        "bayesian_router) or combine all of them (score_mean, agreement, min, mean_minus_var)",
    )
    group.add_argument(
        "--reward_pool", dest=PREFIX + "pool", default=None, metavar="SPECS",
        help="reward-model arms: 'hf:PATH,func:FILE.py,http://HOST:PORT/get_reward' or a .yaml/.json file",
    )
    for name, (kind, help_text) in _PLUGIN_OPTIONS.items():
        group.add_argument(f"--{PREFIX}{name}", dest=PREFIX + name, type=kind, default=None, help=help_text)
    from laser_plugin.core.registry import selectors_with_option

    for name in selector_option_names():
        users = ", ".join(selectors_with_option(name))
        group.add_argument(
            f"--{PREFIX}{name}", dest=PREFIX + name, type=str, default=None,
            help=f"selector option of: {users}",
        )
    return parser


def config_from_namespace(values: dict[str, Any]) -> Optional[LaserConfig]:
    """Build the LaserConfig from parsed flat ``reward_selector.*`` values; None when not enabled."""
    name = values.get(PREFIX + "name")
    if name is None:
        extra = sorted(k for k, v in values.items() if k.startswith(PREFIX) and v is not None)
        if extra:
            flags = ["--reward_pool" if k == PREFIX + "pool" else "--" + k for k in extra]
            raise ValueError(
                f"{', '.join(flags)} given without --reward_selector NAME; add "
                "--reward_selector laser (or another selector) to enable the reward-model pool"
            )
        return None
    plugin_fields = {f.name for f in fields(LaserConfig)}
    kwargs: dict[str, Any] = {"selector": name, "pool": values.get(PREFIX + "pool") or ""}
    options: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(PREFIX) or value is None or key in (PREFIX + "name", PREFIX + "pool"):
            continue
        short = key[len(PREFIX):]
        (kwargs if short in plugin_fields else options)[short] = value
    config = LaserConfig(selector_options=options, **kwargs)
    # not a field (not exported): lets the preflight choose granularity group for a line that needs it
    config.granularity_given = values.get(PREFIX + "granularity") is not None
    return config


def parse_laser_argv(argv: Sequence[str]) -> tuple[Optional[LaserConfig], list[str]]:
    """Split argv into the plugin's config and the arguments left for the upstream CLI."""
    parser = add_laser_arguments(argparse.ArgumentParser(add_help=False, allow_abbrev=False))
    known, rest = parser.parse_known_args(list(argv))
    unknown_ours = [a for a in rest if a.startswith("--" + PREFIX)]
    if unknown_ours:
        raise ValueError(
            f"unknown option(s) {unknown_ours}; valid --{PREFIX}* options: "
            + ", ".join(sorted(set(_PLUGIN_OPTIONS) | set(selector_option_names())))
        )
    return config_from_namespace(vars(known)), rest


def config_from_hierarchical_args(args: Any) -> Optional[LaserConfig]:
    """The same, from OpenRLHF's hierarchized args (patched CLI)."""
    node = getattr(args, "reward_selector", None)
    if node is None:
        return None
    return config_from_namespace({PREFIX + k: v for k, v in vars(node).items()})
