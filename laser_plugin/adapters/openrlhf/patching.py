"""`laser-plugin patch-openrlhf`: apply (or revert) the small, version-gated patches in ``patches/``.

The patch adds the ``--reward_selector`` flag family to ``openrlhf.cli.train_ppo_ray`` and calls
the same activation function the launcher uses. Only openrlhf versions with a patch written and
tested for them are touched; any other version is refused with the launcher as the alternative.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

# openrlhf version -> (patch file, file it changes relative to site-packages)
KNOWN_PATCHES: dict[str, list[tuple[str, str]]] = {
    "0.11.2": [("openrlhf-0.11.2-train_ppo_ray.patch", "openrlhf/cli/train_ppo_ray.py")],
}
MARKER = "laser_plugin"


class PatchError(RuntimeError):
    pass


def patches_dir() -> Path:
    """The repo's ``patches/`` (editable installs) or the copy installed under ``share/``."""
    for candidate in (
        Path(__file__).resolve().parents[3] / "patches",
        Path(sys.prefix) / "share" / "laser_plugin" / "patches",
    ):
        if candidate.is_dir():
            return candidate
    raise PatchError("cannot find laser_plugin's patches/ directory; reinstall laser_plugin")


def openrlhf_site_dir() -> Path:
    # find_spec does not import openrlhf (which would pull in flash_attn, deepspeed, ...).
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or spec.origin is None:
        raise PatchError("openrlhf is not installed in this environment: pip install openrlhf==0.11.2")
    return Path(spec.origin).parent.parent


def _patch_tool() -> str:
    tool = shutil.which("patch")
    if tool is None:
        raise PatchError("the `patch` program is missing (apt-get install patch), or use the launcher: "
                         "python -m laser_plugin.launch openrlhf.cli.train_ppo_ray ...")
    return tool


def _run_patch(patch_file: Path, site: Path, reverse: bool, dry_run: bool) -> subprocess.CompletedProcess:
    cmd = [_patch_tool(), "-p1", "-d", str(site), "--forward", "--no-backup-if-mismatch", "-r", "-", "-i", str(patch_file)]
    if reverse:
        cmd.insert(1, "-R")
    if dry_run:
        cmd.append("--dry-run")
    return subprocess.run(cmd, capture_output=True, text=True)


def is_applied(site: Path, target: str) -> bool:
    return MARKER in (site / target).read_text()


def patch_openrlhf(revert: bool = False, site: Path | None = None, version: str | None = None) -> list[str]:
    """Apply (or revert) the patches for the installed openrlhf. Idempotent. Returns messages."""
    site = site or openrlhf_site_dir()
    version = version or importlib.metadata.version("openrlhf")
    if version not in KNOWN_PATCHES:
        raise PatchError(
            f"openrlhf {version} has no laser_plugin patch (known: {', '.join(KNOWN_PATCHES)}). "
            "Install openrlhf==0.11.2, or use the launcher, which needs no patch: "
            "python -m laser_plugin.launch openrlhf.cli.train_ppo_ray --reward_selector laser ..."
        )
    messages = []
    for patch_name, target in KNOWN_PATCHES[version]:
        patch_file = patches_dir() / patch_name
        applied = is_applied(site, target)
        if applied != revert:
            messages.append(f"{target}: already {'reverted' if revert else 'patched'}")
            continue
        check = _run_patch(patch_file, site, reverse=revert, dry_run=True)
        if check.returncode != 0:
            raise PatchError(
                f"{patch_name} does not apply cleanly to {site / target} (was the file edited?):\n"
                f"{check.stdout}{check.stderr}Reinstall openrlhf==0.11.2 or use the launcher."
            )
        done = _run_patch(patch_file, site, reverse=revert, dry_run=False)
        if done.returncode != 0:
            raise PatchError(f"patch failed on {site / target}:\n{done.stdout}{done.stderr}")
        messages.append(f"{target}: {'reverted' if revert else 'patched'} ({patch_name})")
    return messages
