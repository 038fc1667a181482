"""The diff engine: new, changed, unchanged, echo of jetfort's own writes, missing after a full read."""

from __future__ import annotations

import pandas as pd

from jetfort.catalog.diff import diff_frame, frame_of, hash_rows, hash_values
from jetfort.mapping.products import canonical_hash

COLUMNS = ["Description", "VAT"]


def hashes(rows: dict[str, tuple[str, str]]) -> pd.Series:
    frame = frame_of(({"ArticleNumber": k, "Description": d, "VAT": v} for k, (d, v) in rows.items()),
                     COLUMNS, key="ArticleNumber")
    return hash_rows(frame, COLUMNS)


def test_vectorised_hash_equals_the_row_hash_and_the_canonical_hash() -> None:
    series = hashes({"1": ("Kopp", "25"), "2": ("", "0")})
    assert series["1"] == hash_values(["Kopp", "25"]) == canonical_hash({"Description": "Kopp", "VAT": "25"}, COLUMNS)
    assert series["2"] != hash_values(["", "25"])


def test_outcomes() -> None:
    current = hashes({"new": ("a", "25"), "same": ("b", "25"), "changed": ("c2", "25"), "echo": ("d", "12")})
    snapshot = {
        "same": (hash_values(["b", "25"]), None),
        "changed": (hash_values(["c", "25"]), None),
        "echo": (hash_values(["d", "25"]), hash_values(["d", "12"])),  # jetfort wrote this value there
        "gone": (hash_values(["e", "25"]), None),
    }
    result = diff_frame(current, snapshot, full=True)
    assert (result.new, result.changed, result.echo, result.unchanged, result.missing) == (
        ["new"], ["changed"], ["echo"], 1, ["gone"])
    assert result.to_write == ["new", "changed"]
    assert diff_frame(current, snapshot).missing == []  # an incremental read says nothing about absence


def test_values_as_hashes_and_empty_sides() -> None:
    assert diff_frame(pd.Series({"1@G": "249.00"}, dtype=object), {"1@G": ("249.00", "249.00")}).unchanged == 1
    assert diff_frame(pd.Series([], dtype=object), {}).counts() == {
        "new": 0, "changed": 0, "echo": 0, "unchanged": 0, "missing": 0}
