"""The README's layout tree is drawn from the package: it names every package folder and top-level
module, and each entry it names exists."""
from __future__ import annotations

import re
from pathlib import Path

import laser_plugin

PACKAGE = Path(laser_plugin.__file__).resolve().parent
README = PACKAGE.parent / "README.md"


def _tree_entries() -> set[str]:
    text = README.read_text()
    section = text[text.index("## Layout"):]
    block = section[section.index("```text") + len("```text"):]
    block = block[:block.index("```")]
    entries, stack = set(), []  # (indent, name) of the folders the current line sits in
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)", line)
        if not m or not re.fullmatch(r"\w+/|\w+\.py", m.group(2)):
            continue  # a wrapped description line
        indent, name = len(m.group(1)), m.group(2)
        stack = [(i, n) for i, n in stack if i < indent]
        path = "/".join([n.rstrip("/") for _, n in stack] + [name.rstrip("/")])
        entries.add(path)
        if name.endswith("/"):
            stack.append((indent, name))
    return entries


def test_readme_layout_names_every_package_folder_and_nothing_else():
    entries = _tree_entries()
    root = PACKAGE.parent
    packages = {str(p.parent.relative_to(root)) for p in PACKAGE.rglob("__init__.py")}
    # a subpackage may be named in its parent's description instead of as its own line
    text = README.read_text()
    missing = sorted(p for p in packages if p not in entries and f"{p.split('/')[-2]}/{p.split('/')[-1]}" not in text)
    assert not missing, f"package folders missing from the README layout: {missing}"
    absent = sorted(e for e in entries if not (root / e).exists())
    assert not absent, f"the README layout names what does not exist: {absent}"
