"""The echo guard through the ledger: a write is recorded apart from what was seen."""

from __future__ import annotations

import pandas as pd

from jetfort.catalog.diff import diff_frame
from jetfort.ledger import Ledger


def test_a_write_reads_back_once_as_echo_then_as_unchanged(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    ledger.save_snapshot("t", "shop", "product", [("new", "h1", None)], written=True)
    ledger.save_snapshot("t", "shop", "product", [("old", "h0", None)])
    ledger.save_snapshot("t", "shop", "product", [("old", "h2", None)], written=True)
    assert ledger.snapshot("t", "shop", "product") == {"new": ("", "h1"), "old": ("h0", "h2")}

    read_back = pd.Series({"new": "h1", "old": "h2"}, dtype=object)
    first = diff_frame(read_back, ledger.snapshot("t", "shop", "product"))
    assert sorted(first.echo) == ["new", "old"] and first.to_write == []
    ledger.save_snapshot("t", "shop", "product", [(k, v, None) for k, v in read_back.items()])
    second = diff_frame(read_back, ledger.snapshot("t", "shop", "product"))
    assert (second.echo, second.to_write, second.unchanged) == ([], [], 2)
