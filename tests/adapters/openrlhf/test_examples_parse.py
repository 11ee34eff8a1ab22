"""Every command line in examples/*.sh parses with the REAL parser of the command it runs.

* ``openrlhf.cli.train_ppo_ray`` lines (patched CLI or the launcher, also behind ``ray job submit``):
  upstream's own parser (captured from the installed module, ``ppo.cli.upstream_parser``) with the
  plugin's flag group, then the plugin's preflight checks against upstream's args (pool syntax,
  granularity vs batch sizes, ...; paths and hub ids are the example's, so only their syntax);
* ``laser_plugin.cli iterative-dpo`` / ``laser-plugin evaluate`` / ``best-of-n`` lines: the
  iterative-dpo parser (``dpo.args.build_parser``) with that command's extra flags.

Shell variables are expanded with the scripts' own ``${VAR:-default}`` defaults. A script whose
command this test does not know fails the test, so an example can never drift unnoticed.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.sh"))
_DEFAULT = re.compile(r"^(?:export\s+)?([A-Z_][A-Z0-9_]*)=\$\{\1:-(.*)\}\s*(?:#.*)?$")


def _logical_lines(text: str) -> list[str]:
    """Backslash continuations joined, comments and blank lines dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def _expand(line: str, env: dict[str, str]) -> str:
    line = re.sub(r"\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}", lambda m: env.get(m.group(1), m.group(2)), line)
    return re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), line)


def commands(script: Path) -> list[tuple[str, list[str]]]:
    """(command, argv) for every train_ppo_ray / laser-plugin command line of a script."""
    env: dict[str, str] = {}
    found = []
    for line in _logical_lines(script.read_text()):
        match = _DEFAULT.match(line)
        if match:
            env[match.group(1)] = shlex.split(_expand(match.group(2), env))[0] if match.group(2) else ""
            continue
        if line.startswith(("set ", "laser-plugin patch-openrlhf", "if ", "fi")):
            continue
        tokens = shlex.split(_expand(line, env), comments=True)
        if "openrlhf.cli.train_ppo_ray" in tokens:
            found.append(("train_ppo_ray", tokens[tokens.index("openrlhf.cli.train_ppo_ray") + 1:]))
        elif "laser_plugin.cli" in tokens:
            i = tokens.index("laser_plugin.cli")
            found.append((tokens[i + 1], tokens[i + 2:]))
        elif tokens[:1] == ["laser-plugin"]:
            found.append((tokens[1], tokens[2:]))
        else:
            raise AssertionError(f"{script.name}: a command this test does not know how to parse: {line[:120]}")
    return found


def _dpo_parser(command: str):
    import importlib

    return importlib.import_module(f"laser_plugin.commands.{command.replace('-', '_')}").build_parser()


@pytest.mark.parametrize("script", EXAMPLES, ids=[s.name for s in EXAMPLES])
def test_every_example_command_parses_with_the_real_parser(script, cpu_compat):
    found = commands(script)
    assert found, f"{script.name} runs no command this test knows"
    for command, argv in found:
        if command == "train_ppo_ray":
            from laser_plugin.adapters.openrlhf.flags import parse_laser_argv
            from laser_plugin.adapters.openrlhf.ppo.cli import upstream_parser
            from laser_plugin.adapters.openrlhf.ppo.preflight import check_upstream
            from laser_plugin.pool.specs import parse_pool_spec
            from openrlhf.utils.config import hierarchize

            args = hierarchize(upstream_parser().parse_args(argv))  # argparse exits 2 on a wrong flag
            config, _ = parse_laser_argv(argv)
            assert config is not None, f"{script.name}: no --reward_selector"
            parse_pool_spec(config.pool)
            check_upstream(config, args)
        elif command in ("iterative-dpo", "best-of-n", "evaluate"):
            _dpo_parser(command).parse_args(argv)
        else:
            raise AssertionError(f"{script.name}: unknown laser-plugin command {command!r}")


def test_a_drifted_flag_is_caught(tmp_path, cpu_compat):
    """The check itself: the old --data.dataset spelling in a train_ppo_ray line is refused."""
    from laser_plugin.adapters.openrlhf.ppo.cli import upstream_parser

    script = tmp_path / "bad.sh"
    script.write_text('DATA=${DATA:-d.jsonl}\npython3 -m openrlhf.cli.train_ppo_ray \\\n  --data.dataset "$DATA"\n')
    ((command, argv),) = commands(script)
    assert command == "train_ppo_ray" and argv == ["--data.dataset", "d.jsonl"]
    with pytest.raises(SystemExit):
        upstream_parser().parse_args(argv)
