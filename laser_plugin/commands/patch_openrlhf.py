"""`laser-plugin patch-openrlhf [--revert | --check]`."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "patch-openrlhf",
        help="add --reward_selector to the installed openrlhf.cli.train_ppo_ray (version-gated)",
        description="Apply (idempotently) or revert laser_plugin's small patch to the installed "
        "openrlhf. Without the patch, use: python -m laser_plugin.launch openrlhf.cli.train_ppo_ray ...",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--revert", action="store_true", help="undo the patch")
    mode.add_argument("--check", action="store_true", help="only report the installed version and state")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.metadata

    from laser_plugin.adapters.openrlhf.patching import KNOWN_PATCHES, is_applied, openrlhf_site_dir, patch_openrlhf

    if args.check:
        version = importlib.metadata.version("openrlhf")
        site = openrlhf_site_dir()
        targets = KNOWN_PATCHES.get(version, [])
        state = ", ".join(f"{t}: {'patched' if is_applied(site, t) else 'not patched'}" for _, t in targets)
        print(f"openrlhf {version} at {site}: {state or 'no patch known for this version'}")
        return 0
    for line in patch_openrlhf(revert=args.revert):
        print(line)
    return 0
