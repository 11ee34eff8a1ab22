"""The dotted flags: upstream names parse into OpenRLHF's nested args, the example scripts' command
lines are valid, and the subcommands are registered without importing OpenRLHF."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]


def _example_argv(script: Path) -> list[str]:
    text = script.read_text()
    block = text[text.index("iterative-dpo \\"):]
    block = block[: block.index("\n\n")] if "\n\n" in block else block
    block = re.sub(r"\\\n", " ", block)
    block = re.sub(r'"\$\{?(\w+)[^"]*"', r"VALUE_\1", block)  # shell variables -> placeholders
    return shlex.split(block.split("\n")[0])[1:]


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("iterative_dpo_*.sh")), ids=lambda p: p.name)
def test_example_command_lines_parse(script):
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser
    from laser_plugin.adapters.openrlhf.flags import config_from_namespace

    ns = build_parser().parse_args(_example_argv(script) + ["--local_rank=0"])  # the deepspeed launcher adds it
    laser = config_from_namespace(vars(ns))
    assert laser.selector == "laser" and laser.pool.startswith("VALUE_POOL")


def test_flags_become_openrlhf_nested_args(cpu_compat):
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser, hierarchical
    from laser_plugin.adapters.openrlhf.dpo.setup import LoopConfig

    ns = build_parser().parse_args(["--model.model_name_or_path", "/m", "--data.dataset", "d.jsonl", "--model.beta", "0.2",
                                    "--model.ipo_enable", "--model.nll_loss_coef", "0.1", "--laser.pair_strategy", "margin",
                                    "--laser.pair_margin", "0.5", "--laser.max_pairs_per_prompt", "3",
                                    "--rollout.n_samples_per_prompt", "6"])
    args = hierarchical(ns)
    assert args.model.beta == 0.2 and args.model.ipo_enable and args.model.nll_loss_coef == 0.1
    assert args.ref.model_name_or_path == "/m"  # the reference defaults to the starting model
    assert args.ds.attn_implementation in ("sdpa", "flash_attention_2") and args.ckpt.path.endswith("checkpoints")
    loop = LoopConfig.from_args(args)
    assert loop.pair.strategy == "margin" and loop.pair.margin == 0.5 and loop.max_pairs_per_prompt(6) == 3
    # the default signal is the one the learning-quality benchmark supports: audit without labels (its
    # default share), verifier with them
    assert loop.signal == "audit" and loop.audit_share is None
    labelled = hierarchical(build_parser().parse_args(["--model.model_name_or_path", "/m", "--data.dataset", "d.jsonl",
                                                       "--data.label_key", "answer"]))
    assert LoopConfig.from_args(labelled).signal == "verifier"
    explicit = hierarchical(build_parser().parse_args(["--model.model_name_or_path", "/m", "--data.dataset", "d.jsonl",
                                                       "--data.label_key", "answer", "--laser.signal", "audit"]))
    assert LoopConfig.from_args(explicit).signal == "audit"
    with pytest.warns(FutureWarning, match="--laser.feedback_signal is renamed --laser.signal"):
        renamed = build_parser().parse_args(["--model.model_name_or_path", "/m", "--data.dataset", "d.jsonl",
                                             "--laser.feedback_signal", "loss"])
    assert LoopConfig.from_args(hierarchical(renamed)).signal == "loss"  # launch lines written before the rename
    with pytest.raises(ValueError, match="audit_share"):
        LoopConfig(audit_share=1.5)
    with pytest.raises(ValueError, match="probe_dataset"):
        LoopConfig(signal="probe")
    with pytest.raises(ValueError, match="signal"):
        LoopConfig(signal="vibes")


def test_subcommands_registered_without_importing_openrlhf():
    code = "import sys\nfrom laser_plugin.cli import build_parser\nbuild_parser()\nprint('openrlhf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.split() == ["False"], out.stderr[-2000:]
    helptext = subprocess.run([sys.executable, "-m", "laser_plugin.cli", "iterative-dpo", "--help"],
                              capture_output=True, text=True, cwd=ROOT).stdout
    for flag in ("--model.beta", "--model.nll_loss_coef", "--model.ipo_enable", "--rollout.n_samples_per_prompt",
                 "--laser.pair_strategy", "--laser.signal", "--reward_selector", "--reward_pool"):
        assert flag in helptext
    missing = subprocess.run([sys.executable, "-m", "laser_plugin.cli", "iterative-dpo", "--model.model_name_or_path", "x"],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "--reward_selector NAME and --reward_pool SPECS are required" in missing.stderr


def test_explore_by_defaults_follow_the_signal_and_loss_refuses_the_others(tmp_path):
    from laser_plugin.dpo.credit import dpo_bandit_defaults
    from laser_plugin.config import LaserConfig

    laser = LaserConfig(pool="func:a.py")
    # signals that judge an arm's scores: the best estimate trains; verifier/auto explore by scoring,
    # audit by its audits; LASeR's loss (and the probe) learn from training on the pick
    assert {s: dpo_bandit_defaults(laser, s).explore_by for s in ("verifier", "auto", "audit", "loss", "probe")} == \
        {"verifier": "scoring", "auto": "scoring", "audit": "none", "loss": "training", "probe": "training"}
    assert dpo_bandit_defaults(laser, "verifier").granularity == "group"  # and one decision per prompt
    given = LaserConfig(pool="func:a.py", explore_by="training")
    assert dpo_bandit_defaults(given, "verifier").explore_by == "training"  # asked for: kept
    with pytest.raises(ValueError, match="--reward_selector.explore_by scoring with --laser.signal loss.*explore_by training"):
        dpo_bandit_defaults(LaserConfig(pool="func:a.py", explore_by="scoring"), "loss")
    with pytest.raises(ValueError, match="explore_by must be one of"):
        LaserConfig(pool="func:a.py", explore_by="greedy")
    # on the command line: refused before any model loads (exit 2, the fix in the message)
    out = subprocess.run([sys.executable, "-m", "laser_plugin.cli", "iterative-dpo", "--model.model_name_or_path",
                          str(tmp_path / "no_model"), "--data.dataset", str(tmp_path / "none.jsonl"), "--reward_selector",
                          "laser", "--reward_pool", f"func:{ROOT / 'laser_plugin/demo/arms/length.py'}",
                          "--laser.signal", "loss", "--reward_selector.explore_by", "none"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "use --reward_selector.explore_by training" in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("flag, value, fix", [("signal", "audit", "--laser.signal"),
                                              ("probe_dataset", "p.jsonl", "--laser.probe_dataset"),
                                              ("audit_share", "0.5", "--laser.audit_share"),
                                              ("verifier", "rm_a", "--data.label_key")])
def test_ppo_signal_flags_are_refused_by_iterative_dpo_with_its_own_flag(flag, value, fix, capsys):
    """Iterative DPO reads its signal from --laser.*: the PPO/GRPO spelling would otherwise parse and
    be ignored (a run with another signal than the one asked for)."""
    from laser_plugin.adapters.openrlhf.dpo.args import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--reward_selector", "laser", "--reward_pool", "func:a.py",
                           f"--reward_selector.{flag}", value])
    err = capsys.readouterr().err
    assert f"--reward_selector.{flag}: " in err and fix in err
    assert f"--reward_selector.{flag} " not in parser.format_help()  # one flag per concept in the help
