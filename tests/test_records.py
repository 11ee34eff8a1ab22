"""laser_plugin.records.read_records: both row-file layouts, and a broken line named with its place."""
from __future__ import annotations

import pytest

from laser_plugin.records import read_records


def test_reads_json_lines_skipping_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_records(path) == [{"a": 1}, {"a": 2}]


def test_reads_a_json_list_whatever_the_suffix(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('  [{"a": 1},\n {"a": 2}]')
    assert read_records(path) == [{"a": 1}, {"a": 2}]


def test_a_broken_line_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"rows\.jsonl:2: not a JSON line"):
        read_records(path)
    path.write_text('[{"a": 1},')
    with pytest.raises(ValueError, match=r"rows\.jsonl: not a JSON list"):
        read_records(path)


def test_a_missing_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_records(tmp_path / "absent.jsonl")
