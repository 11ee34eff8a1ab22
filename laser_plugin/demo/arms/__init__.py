"""Reward arms of the quickstart pool, as OpenRLHF ``reward_func`` files (``func:PATH`` specs)."""
from pathlib import Path

ARMS_DIR = Path(__file__).parent
DEFAULT_ARMS = ("verifier", "sentiment", "similarity", "length")


def arm_path(name: str) -> Path:
    path = ARMS_DIR / f"{name}.py"
    if not path.exists():
        known = sorted(p.stem for p in ARMS_DIR.glob("*.py") if not p.stem.startswith("_"))
        raise ValueError(f"unknown demo arm {name!r}; known: {known}")
    return path


def default_pool(names: tuple[str, ...] = DEFAULT_ARMS) -> str:
    """The ``--reward_pool`` spec of the named demo arms."""
    return ",".join(f"func:{arm_path(n)}@{n}" for n in names)
