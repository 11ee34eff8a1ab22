"""The --reward_selector flag family: parsing, validation, and clear errors (no Ray, no training)."""
import argparse

import pytest

from laser_plugin.adapters.openrlhf.flags import add_laser_arguments, config_from_hierarchical_args, parse_laser_argv


def test_launcher_parsing_splits_plugin_and_upstream_flags():
    config, rest = parse_laser_argv([
        "--actor.model_name_or_path", "m", "--reward_selector", "laser", "--reward_pool", "hf:/a,func:b.py",
        "--reward_selector.alpha", "0.5", "--reward_selector.granularity", "group", "--rollout.n_samples_per_prompt", "4",
    ])
    assert rest == ["--actor.model_name_or_path", "m", "--rollout.n_samples_per_prompt", "4"]
    assert config.selector == "laser" and config.pool == "hf:/a,func:b.py" and config.granularity == "group"
    assert config.selector_options == {"alpha": "0.5"}


def test_the_old_normaliser_flag_still_parses_and_warns():
    with pytest.warns(FutureWarning, match="--reward_selector.feedback is renamed --reward_selector.signal_norm"):
        config, _ = parse_laser_argv(["--reward_selector", "laser", "--reward_pool", "hf:/a",
                                      "--reward_selector.feedback", "zscore"])
    assert config.signal_norm == "zscore" and "feedback" not in config.selector_options


def test_without_the_flag_nothing_is_enabled():
    config, rest = parse_laser_argv(["--actor.model_name_or_path", "m"])
    assert config is None and rest == ["--actor.model_name_or_path", "m"]


@pytest.mark.parametrize("argv, match", [
    (["--reward_selector", "lasr", "--reward_pool", "hf:/a"], r"unknown --reward_selector 'lasr'; valid names: .*laser"),
    (["--reward_selector", "laser"], "--reward_selector needs --reward_pool"),
    (["--reward_pool", "hf:/a"], r"--reward_pool given without --reward_selector NAME"),
    (["--reward_selector", "laser", "--reward_pool", "hf:/a", "--reward_selector.granularity", "token"],
     r"granularity must be one of \('batch', 'group'\)"),
    (["--reward_selector", "laser", "--reward_pool", "hf:/a", "--reward_selector.signal", "verifier"],
     "needs --reward_selector.verifier ARM_NAME"),
    (["--reward_selector", "laser", "--reward_pool", "hf:/a", "--reward_selector.signal", "probe"],
     "needs --reward_selector.probe_dataset FILE.jsonl"),
    (["--reward_selector", "laser", "--reward_pool", "hf:/a", "--reward_selector.alpah", "1"],
     r"unknown option\(s\) \['--reward_selector.alpah'\]; valid --reward_selector.\* options: .*alpha"),
])
def test_bad_flags_name_the_problem_and_the_fix(argv, match):
    with pytest.raises(ValueError, match=match):
        parse_laser_argv(argv)


def test_patched_parser_and_hierarchize_build_the_same_config():
    from openrlhf.utils.config import hierarchize

    parser = add_laser_arguments(argparse.ArgumentParser())
    parser.add_argument("--reward.model_name_or_path", default=None)
    args = hierarchize(parser.parse_args(["--reward_selector", "thompson", "--reward_pool", "hf:/a",
                                          "--reward_selector.prior_strength", "2"]))
    config = config_from_hierarchical_args(args)
    assert config.selector == "thompson" and config.selector_options == {"prior_strength": "2"}
    upstream_only = hierarchize(parser.parse_args([]))
    assert config_from_hierarchical_args(upstream_only) is None


def test_launcher_help_is_upstream_help_plus_the_plugin_group(cpu_compat, capsys):
    """`python -m laser_plugin.launch openrlhf.cli.train_ppo_ray --help` (its main, in-process)."""
    import pytest

    from laser_plugin.launch import main

    with pytest.raises(SystemExit) as done:
        main(["openrlhf.cli.train_ppo_ray", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: python -m laser_plugin.launch openrlhf.cli.train_ppo_ray" in out
    for upstream_flag in ("--actor.model_name_or_path", "--rollout.n_samples_per_prompt", "--algo.dynamic_filtering_enable",
                          "--reward.remote_url", "--ds.packing_samples"):
        assert upstream_flag in out
    assert "laser_plugin (bandit-selected reward model pool):" in out
    for flag in ("--reward_selector NAME", "--reward_pool SPECS", "--reward_selector.granularity", "--reward_selector.alpha"):
        assert flag in out
