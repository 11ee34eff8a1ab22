"""The package installs, imports light, and its console script answers."""
import subprocess
import sys

import laser_plugin

HEAVY = ("openrlhf", "ray", "deepspeed", "vllm")


def test_import_is_light():
    code = "import sys, laser_plugin; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import laser_plugin pulled in: {out.stdout.strip()}"


def test_console_script_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "laser_plugin.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert laser_plugin.__version__ in out.stdout
    out = subprocess.run([sys.executable, "-m", "laser_plugin.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "laser-plugin" in out.stdout


def test_launch_without_module_prints_usage():
    out = subprocess.run([sys.executable, "-m", "laser_plugin.launch"], capture_output=True, text=True)
    assert out.returncode == 2 and "usage" in out.stdout
