"""Command lines generated from config dataclasses (laser_plugin/cli_fields.py)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Optional

import pytest

from laser_plugin.cli_fields import add_options, option, option_names, option_values


@dataclass
class Inner:
    depth: int = option(3, "how deep")


@dataclass
class Outer:
    rounds: int = option(2, "rounds")
    name: Optional[str] = option(None, "a name")
    tags: tuple[str, ...] = option(("a", "b"), "tags", choices=("a", "b", "c"))
    dedup: bool = option(True, "drop duplicates")
    verbose: bool = option(False, "talk")
    strategy: str = option("max_min", "pairing", flag="pair_strategy")
    inner: Inner = field(default_factory=Inner)
    internal: int = 7  # no help: not an option

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError("rounds must be >= 1")


def _parser(**kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_options(p, Outer, **kwargs)
    return p


def test_defaults_round_trip_to_the_dataclass_defaults():
    ns = _parser(prefix="x.").parse_args([])
    assert Outer(**option_values(Outer, vars(ns), prefix="x.")) == Outer()


def test_each_kind_of_field_parses():
    ns = _parser(prefix="x.").parse_args(
        ["--x.rounds", "5", "--x.name", "n", "--x.tags", "c", "a", "--x.no_dedup", "--x.verbose",
         "--x.pair_strategy", "random", "--x.depth", "9"])
    cfg = Outer(**option_values(Outer, vars(ns), prefix="x."))
    assert cfg == Outer(rounds=5, name="n", tags=("c", "a"), dedup=False, verbose=True, strategy="random",
                        inner=Inner(depth=9))


def test_dashes_and_unknown_choices_and_non_options():
    p = _parser(dashes=True)
    assert vars(p.parse_args(["--pair-strategy", "r"]))["pair_strategy"] == "r"
    with pytest.raises(SystemExit):
        p.parse_args(["--tags", "z"])
    with pytest.raises(SystemExit):
        p.parse_args(["--internal", "1"])
    assert option_names(Outer) == ["rounds", "name", "tags", "no_dedup", "verbose", "pair_strategy", "depth"]


def test_given_only_leaves_the_defaults_to_the_dataclass():
    ns = _parser(unset_default=True).parse_args(["--rounds", "4"])
    assert option_values(Outer, vars(ns), skip=("inner", "dedup"), given_only=True) == {"rounds": 4}


def test_validation_runs_once_in_the_dataclass():
    ns = _parser().parse_args(["--rounds", "0"])
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        Outer(**option_values(Outer, vars(ns)))


def test_help_shows_the_dataclass_default_even_when_the_parser_default_is_unset():
    text = _parser(unset_default=True).format_help()
    assert "rounds (default: 2)" in text and "tags (default: a b)" in text
    assert "talk (default" not in text  # switches have no default to show


def test_quickstart_command_line_builds_the_default_config():
    from laser_plugin.commands import quickstart
    from laser_plugin.demo.data import DataConfig
    from laser_plugin.quickstart.config import QuickstartConfig

    p = argparse.ArgumentParser()
    quickstart.register(p.add_subparsers())
    values = vars(p.parse_args(["quickstart"]))
    data = DataConfig(**option_values(DataConfig, values), seed=values["seed"])
    cfg = QuickstartConfig(**option_values(QuickstartConfig, values, skip=("data",)), data=data)
    assert cfg == QuickstartConfig(data=DataConfig(seed=QuickstartConfig.seed))



@dataclass
class Renamed:
    signal: str = option("loss", "what the bandit learns from", old_names=("feedback_signal",))
    quiet: bool = option(False, "no output", old_names=("silent",))


def test_old_names_still_parse_and_warn():
    parser = argparse.ArgumentParser()
    add_options(parser, Renamed, prefix="laser.")
    with pytest.warns(FutureWarning, match="--laser.feedback_signal is renamed --laser.signal"):
        ns = parser.parse_args(["--laser.feedback_signal", "audit", "--laser.silent"])
    assert Renamed(**option_values(Renamed, vars(ns), prefix="laser.")) == Renamed(signal="audit", quiet=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current name does not warn
        assert parser.parse_args(["--laser.signal", "probe"]).__dict__["laser.signal"] == "probe"
    assert "--laser.feedback_signal" in parser.format_help()
