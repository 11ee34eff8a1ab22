"""Every bad plugin input in the README's troubleshooting list is refused before Ray starts.

In-process: the launcher's own entry (``launch.activate_plugin``: upstream's real parser, then the
preflight) and the patched CLI's entry (``activate.activate_from_args`` on upstream's parse) raise
/ exit 2 naming the flag, and Ray is still not initialised afterwards. Two subprocess runs of
``python -m laser_plugin.launch`` measure the whole refusal (exit code 2, message, under 20 s) with
``RAY_ADDRESS`` pointing nowhere, so a Ray start would fail differently.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command

GOOD_FUNC = "import torch\ndef reward_func(queries, prompts, labels, **kw):\n    return torch.zeros(len(queries))\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight")
    (root / "good.py").write_text(GOOD_FUNC)
    (root / "no_func.py").write_text("x = 1\n")
    (root / "broken.py").write_text("import not_a_module_anywhere\n")
    (root / "empty_dir").mkdir()
    (root / "prompts.jsonl").write_text('{"prompt": "hi"}\n')
    return root


def upstream_line(files: Path, *extra: str) -> list[str]:
    """A valid tiny GRPO train_ppo_ray line (the CPU test command), plugin flags appended."""
    cmd = grpo_cpu_command(files / "policy", None, files / "prompts.jsonl", files / "run")
    return [*cmd[cmd.index("openrlhf.cli.train_ppo_ray") + 1:], *extra]


def pool_line(files: Path, pool: str | None = None, *extra: str) -> list[str]:
    return upstream_line(files, "--reward_selector", "laser", "--reward_pool", pool or f"func:{files}/good.py", *extra)


BATCH = ("--reward_selector.granularity", "batch")  # asked for explicitly (left out, see test_default_granularity_...)

# (description, extra args builder, expected message) -- the README troubleshooting list
BAD_INPUTS = [
    ("unknown selector", lambda f: upstream_line(f, "--reward_selector", "lasr", "--reward_pool", f"func:{f}/good.py"),
     r"unknown --reward_selector 'lasr'; valid names: .*laser"),
    ("no pool", lambda f: upstream_line(f, "--reward_selector", "laser"), r"--reward_selector needs --reward_pool"),
    ("stray comma", lambda f: pool_line(f, f"func:{f}/good.py,"), r"--reward_pool .*empty entry in reward pool spec"),
    ("bad arm kind", lambda f: pool_line(f, "foo:bar"), r"--reward_pool 'foo:bar': bad arm entry 'foo:bar'; valid forms"),
    ("empty hf target", lambda f: pool_line(f, "hf:"), r"--reward_pool 'hf:': .*empty target"),
    ("missing local hf path", lambda f: pool_line(f, "hf:/nonexistent/rm"),
     r"arm 'rm' \(hf:/nonexistent/rm\): the local path /nonexistent/rm does not exist"),
    ("hf dir without config", lambda f: pool_line(f, f"hf:{f}/empty_dir"), r"not a Hugging Face checkpoint directory"),
    ("missing func file", lambda f: pool_line(f, f"func:{f}/absent.py"), r"the file .*absent.py does not exist"),
    ("func without reward_func", lambda f: pool_line(f, f"func:{f}/no_func.py"), r"defines no callable reward_func"),
    ("func that fails to import", lambda f: pool_line(f, f"func:{f}/broken.py"),
     r"cannot be used as a reward function: ModuleNotFoundError"),
    ("bad selector option value", lambda f: pool_line(f, None, "--reward_selector.alpha", "-1"),
     r"--reward_selector laser --reward_selector.alpha -1: laser: alpha must be >= 0"),
    ("misspelt selector option", lambda f: pool_line(f, None, "--reward_selector.alpah", "1"),
     r"unknown option\(s\) \['--reward_selector.alpah'\]"),
    ("option of another selector", lambda f: pool_line(f, None, "--reward_selector.epsilon", "0.1"),
     r"selector 'laser' has no option\(s\) \['epsilon'\]"),
    ("bad signal", lambda f: pool_line(f, None, "--reward_selector.signal", "bogus"), r"signal must be one of"),
    ("bad feedback", lambda f: pool_line(f, None, "--reward_selector.signal_norm", "median"), r"--reward_selector.signal_norm 'median'"),
    ("verifier not in pool", lambda f: pool_line(f, None, "--reward_selector.signal", "verifier",
                                                 "--reward_selector.verifier", "judge"),
     r"--reward_selector.verifier 'judge' is not an arm of --reward_pool \(arms: good\)"),
    ("batch decision cuts groups", lambda f: pool_line(f, None, "--rollout.micro_batch_size", "3", *BATCH),
     r"--rollout.micro_batch_size 3 is not a multiple of --rollout.n_samples_per_prompt 2.*granularity group"),
    ("batch decision with dynamic batch", lambda f: pool_line(f, None, "--train.dynamic_batch_enable", *BATCH),
     r"--train.dynamic_batch_enable regroups samples.*granularity group"),
    ("group signal without groups", lambda f: pool_line(f, None, "--reward_selector.signal", "group_variance",
                                                        "--rollout.n_samples_per_prompt", "1",
                                                        "--algo.advantage.estimator", "reinforce"),
     r"--reward_selector.signal group_variance learns from prompt groups"),
    ("dynamic filtering per micro-batch", lambda f: pool_line(f, None, "--algo.dynamic_filtering_enable", *BATCH),
     r"--algo.dynamic_filtering_enable scores each prompt group.*granularity group"),
    ("bad explore_by", lambda f: pool_line(f, None, "--reward_selector.explore_by", "greedy"),
     r"--reward_selector.explore_by must be one of \('training', 'scoring', 'none'\)"),
    ("explore_by other than training in PPO/GRPO",
     lambda f: pool_line(f, None, "--reward_selector.explore_by", "scoring"),
     r"--reward_selector.explore_by scoring: PPO/GRPO trains on the pick's rewards.*use --reward_selector.explore_by training"),
    ("single RM flag", lambda f: pool_line(f, None, "--reward.model_name_or_path", "/rm"),
     r"pass the reward models through --reward_pool, not --reward.model_name_or_path"),
    ("remote RM flag", lambda f: pool_line(f, None, "--reward.remote_url", "http://127.0.0.1:5000/get_reward"),
     r"--reward_selector replaces OpenRLHF's reward model: drop --reward.remote_url"),
    ("agent func", lambda f: pool_line(f, None, "--train.agent_func_path", str(f / "good.py")),
     r"--reward_selector replaces OpenRLHF's reward model: drop --reward.remote_url / --train.agent_func_path"),
    ("eval set", lambda f: pool_line(f, None, "--eval.dataset", str(f / "prompts.jsonl")), r"--eval.dataset: upstream scores"),
    ("probe set missing", lambda f: pool_line(f, None, "--reward_selector.signal", "probe",
                                              "--reward_selector.probe_dataset", str(f / "absent.jsonl")),
     r"--reward_selector.probe_dataset .*absent.jsonl: cannot read it as JSON/JSONL"),
    ("probe set without the prompt column", lambda f: pool_line(f, None, "--reward_selector.signal", "probe",
                                                                "--reward_selector.probe_dataset", str(f / "prompts.jsonl")),
     r"row 0 lacks \['chosen', 'rejected'\]"),
]


@pytest.mark.parametrize("name, argv, match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_launcher_refuses_before_ray(name, argv, match, files, cpu_compat):
    import ray

    from laser_plugin.launch import activate_plugin

    with pytest.raises(ValueError, match=match):
        activate_plugin(argv(files))
    assert not ray.is_initialized()


PATCHED_CLI_CASES = [b for b in BAD_INPUTS if b[0] not in ("misspelt selector option",)]  # argparse's own error there


@pytest.mark.parametrize("name, argv, match", PATCHED_CLI_CASES, ids=[b[0] for b in PATCHED_CLI_CASES])
def test_patched_cli_refuses_before_ray_with_exit_2(name, argv, match, files, cpu_compat, capsys):
    """What the patched train_ppo_ray runs right after upstream's parse + hierarchize."""
    import re

    import ray

    from laser_plugin.adapters.openrlhf.activate import activate_from_args
    from laser_plugin.adapters.openrlhf.ppo.cli import upstream_parser
    from openrlhf.utils.config import hierarchize

    args = hierarchize(upstream_parser().parse_args(argv(files)))
    with pytest.raises(SystemExit) as exit_info:
        activate_from_args(args)
    assert exit_info.value.code == 2
    assert re.search(match, capsys.readouterr().err)
    assert not ray.is_initialized()


def test_a_valid_line_passes_the_preflight(files, cpu_compat):
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
    from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    argv = pool_line(files, f"func:{files}/good.py@a,func:{files}/good.py@b", "--reward_selector.granularity", "group",
                     "--rollout.micro_batch_size", "3", "--train.dynamic_batch_enable", "--algo.dynamic_filtering_enable",
                     "--reward_selector.alpha", "0.5")
    config, _ = parse_laser_argv(argv)
    specs = preflight(config, parse_upstream(argv))
    assert [s.name for s in specs] == ["a", "b"]


@pytest.mark.parametrize("pool, extra, match", [
    ("hf:/nonexistent/rm", [], "the local path /nonexistent/rm does not exist"),
    (None, ["--reward_selector.alpha", "-1"], "alpha must be >= 0"),
    (None, ["--rollout.micro_batch_size", "3", *BATCH], "is not a multiple of --rollout.n_samples_per_prompt 2"),
])
def test_refusal_end_to_end_is_fast_and_exits_2(pool, extra, match, files):
    env = cpu_run_env()
    env["RAY_ADDRESS"] = "127.0.0.1:1"  # nothing listens there: a Ray start would fail with another error
    cmd = [sys.executable, "-m", "laser_plugin.launch", "--cpu-rollout", "openrlhf.cli.train_ppo_ray",
           *pool_line(files, pool, *extra)]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert match in proc.stderr and "error:" in proc.stderr
    assert elapsed < 20, f"refusal took {elapsed:.1f} s"


def test_dynamic_filtering_is_held_back_from_upstreams_assert_and_restored_for_train(files, cpu_compat):
    """The patched CLI's path: activate_from_args clears the flag (upstream's assert wants a remote RM)
    and train()'s get_strategy (upstream's own, called through the CLI module's name) sets it again."""
    import types

    import openrlhf.utils as utils

    from laser_plugin.adapters.openrlhf.activate import defer_dynamic_filtering
    from laser_plugin.adapters.openrlhf.ppo.cli import upstream_parser
    from openrlhf.utils.config import hierarchize

    real = utils.get_strategy
    cli = types.ModuleType("train_ppo_ray_as_main")
    cli.get_strategy = real
    args = hierarchize(upstream_parser().parse_args(pool_line(files, None, "--reward_selector.granularity", "group",
                                                              "--algo.dynamic_filtering_enable")))
    args.algo.dynamic_filtering_enable = False
    defer_dynamic_filtering(cli)
    assert cli.get_strategy is not real and utils.get_strategy is not real
    strategy = cli.get_strategy(args)
    assert strategy.args.algo.dynamic_filtering_enable is True
    assert cli.get_strategy is real and utils.get_strategy is real  # one shot


def test_the_fast_parser_capture_is_upstreams_whole_parser(cpu_compat):
    """ppo.cli runs only train_ppo_ray's __main__ block (stdlib imports); running the whole module
    must give the same options, defaults and choices."""
    import argparse
    import runpy
    import sys as _sys

    from laser_plugin.adapters.openrlhf.ppo import cli as ppo_cli

    def captured(run):
        original, saved = argparse.ArgumentParser.parse_args, _sys.argv

        def capture(self, *a, **k):
            raise ppo_cli._Captured(self)

        argparse.ArgumentParser.parse_args = capture
        try:
            _sys.argv = [ppo_cli.PPO_MODULE]
            run(ppo_cli.PPO_MODULE)
        except ppo_cli._Captured as done:
            return done.parser
        finally:
            argparse.ArgumentParser.parse_args, _sys.argv = original, saved
        raise AssertionError("no parser captured")

    def options(parser):  # the run name's default is a timestamp taken when the parser is built
        return {a.dest: (tuple(a.option_strings), None if a.dest == "logger.wandb.run_name" else repr(a.default),
                         tuple(a.choices or ()), a.nargs)
                for a in parser._actions if not a.dest.startswith("reward_selector.")}

    fast = captured(ppo_cli._run_main_block_light)
    full = captured(lambda m: runpy.run_module(m, run_name="__main__", alter_sys=False))
    assert options(fast) == options(full) and len(options(fast)) > 150


def test_upstream_ppo_example_shape_with_the_pool_is_accepted(files, cpu_compat):
    """train_ppo_ray_hybrid_engine.sh's flags (GAE with a critic, n_samples_per_prompt 1, dynamic batch,
    packing, normalised reward, ZeRO-3, sleep) with the pool and the default granularity batch: with
    one sample per prompt no group can be split, so nothing is refused (a CPU run of this line with a
    2-arm pool: 116 s, rc 0)."""
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
    from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    argv = pool_line(files, None, "--algo.advantage.estimator", "gae", "--critic.model_name_or_path", str(files),
                     "--rollout.n_samples_per_prompt", "1", "--rollout.micro_batch_size", "1",
                     "--train.dynamic_batch_enable", "--train.max_tokens_per_gpu", "128", "--ds.packing_samples",
                     "--reward.normalize_enable", "--ds.zero_stage", "3", "--ds.enable_sleep")
    config, _ = parse_laser_argv(argv)
    assert config.granularity == "batch"
    preflight(config, parse_upstream(argv))


@pytest.mark.parametrize("extra", [("--rollout.micro_batch_size", "3"), ("--train.dynamic_batch_enable",),
                                   ("--algo.dynamic_filtering_enable",)])
def test_default_granularity_becomes_group_when_the_line_needs_it(extra, files, cpu_compat, capsys):
    """Upstream's GRPO/DAPO lines plus only --reward_selector/--reward_pool (granularity left at its
    default) get one decision per prompt group, with a note; an explicit `batch` is refused above."""
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
    from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    argv = pool_line(files, None, *extra)
    config, _ = parse_laser_argv(argv)
    assert config.granularity == "batch" and not config.granularity_given
    preflight(config, parse_upstream(argv))
    assert config.granularity == "group" and '"granularity": "group"' in config.to_json()
    assert "--reward_selector.granularity group (one decision per prompt group)" in capsys.readouterr().err


@pytest.mark.parametrize("extra, expected", [
    ((), "audit"),  # GRPO line (2 samples per prompt), no verifier: the cross-arm audit
    (("--reward_selector.verifier", "good"), "verifier"),
    (("--rollout.n_samples_per_prompt", "1"), "loss"),  # no prompt groups to compare: LASeR's loss, with a note
])
def test_default_signal_follows_the_line(extra, expected, files, cpu_compat, capsys):
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
    from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    argv = pool_line(files, None, *extra)
    config, _ = parse_laser_argv(argv)
    assert not config.signal_given
    preflight(config, parse_upstream(argv))
    assert config.signal == expected and f'"signal": "{expected}"' in config.to_json()
    assert ("--reward_selector.signal loss: one sample per prompt" in capsys.readouterr().err) == (expected == "loss")


def test_an_explicit_group_signal_without_groups_is_refused(files, cpu_compat):
    from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
    from laser_plugin.adapters.openrlhf.ppo.cli import parse_upstream
    from laser_plugin.adapters.openrlhf.ppo.preflight import preflight

    argv = pool_line(files, None, "--reward_selector.signal", "audit", "--rollout.n_samples_per_prompt", "1")
    config, _ = parse_laser_argv(argv)
    with pytest.raises(ValueError, match="--reward_selector.signal audit learns from prompt groups"):
        preflight(config, parse_upstream(argv))
