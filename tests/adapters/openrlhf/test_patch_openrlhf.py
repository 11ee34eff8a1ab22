"""`laser-plugin patch-openrlhf`: apply / idempotent / revert / refuse, on a copy of the installed
openrlhf 0.11.2 file (the test never edits the shared virtualenv)."""
import shutil
import subprocess
import sys

import pytest

from laser_plugin.adapters.openrlhf.patching import PatchError, openrlhf_site_dir, patch_openrlhf

TARGET = "openrlhf/cli/train_ppo_ray.py"


@pytest.fixture()
def site_copy(tmp_path):
    (tmp_path / "openrlhf" / "cli").mkdir(parents=True)
    shutil.copy(openrlhf_site_dir() / TARGET, tmp_path / TARGET)
    return tmp_path


def test_apply_is_idempotent_and_revert_restores_bytes(site_copy):
    original = (site_copy / TARGET).read_bytes()
    assert "patched" in patch_openrlhf(site=site_copy, version="0.11.2")[0]
    patched = (site_copy / TARGET).read_text()
    assert "add_laser_arguments(parser)" in patched and "activate_from_args(args)" in patched
    assert "already patched" in patch_openrlhf(site=site_copy, version="0.11.2")[0]
    assert "reverted" in patch_openrlhf(revert=True, site=site_copy, version="0.11.2")[0]
    assert (site_copy / TARGET).read_bytes() == original
    assert "already reverted" in patch_openrlhf(revert=True, site=site_copy, version="0.11.2")[0]


def test_unknown_version_is_refused_with_the_launcher_as_alternative(site_copy):
    with pytest.raises(PatchError, match=r"openrlhf 0\.12\.0 has no laser_plugin patch.*laser_plugin\.launch"):
        patch_openrlhf(site=site_copy, version="0.12.0")


def test_edited_file_is_refused(site_copy):
    text = (site_copy / TARGET).read_text().replace("args = parser.parse_args()", "args = parser.parse_args([])")
    (site_copy / TARGET).write_text(text)
    with pytest.raises(PatchError, match="does not apply cleanly"):
        patch_openrlhf(site=site_copy, version="0.11.2")


def test_patched_cli_accepts_the_flag_family(site_copy):
    patch_openrlhf(site=site_copy, version="0.11.2")
    out = subprocess.run(
        [sys.executable, str(site_copy / TARGET), "--help"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for flag in ("--reward_selector", "--reward_pool", "--reward_selector.granularity", "--reward_selector.alpha"):
        assert flag in out.stdout


def test_cli_subcommand_reports_installed_version_status():
    out = subprocess.run(
        [sys.executable, "-m", "laser_plugin.cli", "patch-openrlhf", "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "openrlhf 0.11.2" in out.stdout
