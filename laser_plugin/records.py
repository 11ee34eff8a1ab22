"""Row files: a JSON list or JSON Lines, one record per row (prompts, pairs, predictions, decision logs).

One reader for every row file the plugin takes or writes, so each accepts both layouts and a broken
line is reported with its file and line number.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_records(path: str | Path) -> list[Any]:
    """Every record of ``path``: the items of a JSON list (a file whose text starts with ``[``), else
    one JSON value per non-blank line. Raises ``OSError`` when the file cannot be read and
    ``ValueError`` naming ``path:line`` when a line is not JSON."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            return list(json.loads(text))
        except ValueError as err:
            raise ValueError(f"{path}: not a JSON list ({err})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as err:
                raise ValueError(f"{path}:{number}: not a JSON line ({err})") from None
    return rows


__all__ = ["read_records"]
