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

from laser_plugin.cli_fields import add_options, option_names, option_values
from laser_plugin.config import LaserConfig

PREFIX = "reward_selector."
# --reward_selector NAME and --reward_pool SPECS name the family; every other LaserConfig option is
# --reward_selector.<field>, generated from the dataclass (help in its field metadata).
_NAMED = {"selector": ("--reward_selector", PREFIX + "name", "NAME"), "pool": ("--reward_pool", PREFIX + "pool", "SPECS")}


def plugin_option_names() -> list[str]:
    """The --reward_selector.<name> options that are LaserConfig fields."""
    return option_names(LaserConfig, skip=_NAMED)


def selector_option_names() -> list[str]:
    """Every option any registered selector accepts (validated per selector by make_selector)."""
    from laser_plugin.core.registry import selector_option_names as core_option_names

    return sorted(set(core_option_names()) - set(plugin_option_names()))


def _refused(message: str) -> type:
    class Refused(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
            parser.error(f"{option_string}: {message}")

    return Refused


def add_laser_arguments(parser: argparse.ArgumentParser,
                        elsewhere: Optional[dict[str, str]] = None) -> argparse.ArgumentParser:
    """The family on ``parser``. ``elsewhere``: options a trainer takes under another flag, refused
    with the message (where to give it instead) and left out of the help, so that a flag the trainer
    would not read is never silently accepted."""
    group = parser.add_argument_group("laser_plugin (bandit-selected reward model pool)")
    helps = {f.name: f.metadata.get("help") for f in fields(LaserConfig)}
    for name, (flag, dest, metavar) in _NAMED.items():
        group.add_argument(flag, dest=dest, default=None, metavar=metavar, help=helps[name])
    elsewhere = elsewhere or {}
    # defaults None: what was given is known (the dataclass supplies the rest)
    add_options(group, LaserConfig, prefix=PREFIX, unset_default=True, skip={**_NAMED, **elsewhere})
    for name, message in elsewhere.items():
        group.add_argument(f"--{PREFIX}{name}", dest=PREFIX + name, default=None, help=argparse.SUPPRESS,
                           action=_refused(message))
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
    plugin = set(plugin_option_names())
    options = {key[len(PREFIX):]: value for key, value in values.items()
               if key.startswith(PREFIX) and value is not None and key[len(PREFIX):] not in plugin
               and key not in (PREFIX + "name", PREFIX + "pool")}
    config = LaserConfig(selector=name, pool=values.get(PREFIX + "pool") or "", selector_options=options,
                         **option_values(LaserConfig, values, prefix=PREFIX, skip=_NAMED, given_only=True))
    return config


def parse_laser_argv(argv: Sequence[str]) -> tuple[Optional[LaserConfig], list[str]]:
    """Split argv into the plugin's config and the arguments left for the upstream CLI."""
    parser = add_laser_arguments(argparse.ArgumentParser(add_help=False, allow_abbrev=False))
    known, rest = parser.parse_known_args(list(argv))
    unknown_ours = [a for a in rest if a.startswith("--" + PREFIX)]
    if unknown_ours:
        raise ValueError(
            f"unknown option(s) {unknown_ours}; valid --{PREFIX}* options: "
            + ", ".join(sorted(set(plugin_option_names()) | set(selector_option_names())))
        )
    return config_from_namespace(vars(known)), rest


def config_from_hierarchical_args(args: Any) -> Optional[LaserConfig]:
    """The same, from OpenRLHF's hierarchized args (patched CLI)."""
    node = getattr(args, "reward_selector", None)
    if node is None:
        return None
    return config_from_namespace({PREFIX + k: v for k, v in vars(node).items()})
