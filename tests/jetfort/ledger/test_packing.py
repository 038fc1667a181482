"""The SQLite ledger stores large JSON values compressed, reads them back unchanged, and still reads
the plain JSON rows an older jetfort wrote. Oracles: the standard library's json and zlib, and
SQLite's own ``typeof``/``length`` of what is stored."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from jetfort.ledger import Ledger
from jetfort.ledger.packing import PACK_FROM, UnreadablePacked, pack, unpack

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=12), inner, max_size=8),
    max_leaves=60,
)


@given(JSON)
def test_every_json_value_comes_back_as_the_standard_library_reads_it(value: Any) -> None:
    stored = pack(value)
    assert unpack(stored) == json.loads(json.dumps(value))
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    # small values stay readable JSON text; from PACK_FROM bytes on, zlib of that same JSON
    if isinstance(stored, bytes):
        assert len(text) >= PACK_FROM * 0.9 and json.loads(zlib.decompress(stored)) == json.loads(text)
    else:
        assert json.loads(stored) == json.loads(text)


def test_an_order_detail_is_stored_in_a_third_of_its_json() -> None:
    detail = {"order": {"rows": [{"article_number": f"10{i}", "name": "Huvtröja", "quantity": "1.0000",
                                  "unit_price_inc_vat": "599.0000", "vat_rate": "0.25000000"} for i in range(6)]},
              "document": {"InvoiceRows": [{"ArticleNumber": f"10{i}", "Price": 599, "VAT": 25} for i in range(6)]}}
    stored = pack(detail)
    assert isinstance(stored, bytes)
    assert len(stored) < len(json.dumps(detail, ensure_ascii=False).encode()) / 2.5


@pytest.mark.parametrize("old", ['{"a": 1}', b'{"a": 1}', '"x"', b"null"])
def test_plain_json_an_older_jetfort_wrote_still_reads(old: str | bytes) -> None:
    assert unpack(old) == json.loads(old)


def test_a_damaged_compressed_value_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnreadablePacked, match="does not decompress"):
        unpack(b"x\x9c not zlib at all")


def _stored(ledger: Ledger, sql: str) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def test_the_sqlite_ledger_keeps_large_values_compressed_and_reads_every_path_back(tmp_path: Path) -> None:
    ledger = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    big = {"order": {"rows": [{"name": f"Mugg stengods {i}", "price": "129.0000"} for i in range(40)]}}
    small = {"order_number": "1"}
    ledger.ensure_records("t", "order", [("se:1", big), ("se:2", small)])
    ledger.transition("t", "order", "se:1", "mapped", step="map", payload={"document": big}, run_id="r")
    ledger.transition_many("t", "order", [{"source_key": "se:2", "state": "mapped", "step": "map",
                                           "detail": big, "payload": big, "run_id": "r"}])
    ledger.quarantine("t", "order", "se:3", reason="r", message="m", payload=big)

    rows = dict((k, (kind, size)) for k, kind, size in _stored(
        ledger, "SELECT source_key, typeof(detail), length(detail) FROM records WHERE kind = 'order'"))
    whole = len(json.dumps(big, separators=(",", ":")).encode())
    assert rows["se:1"][0] == rows["se:2"][0] == "blob" and rows["se:1"][1] < whole / 3
    audit = _stored(ledger, "SELECT typeof(payload), length(payload) FROM record_audit WHERE payload != 'null'")
    assert audit and all(kind == "blob" and size < whole / 3 for kind, size in audit)

    assert ledger.get("t", "order", "se:1").detail == big  # type: ignore[union-attr]
    assert ledger.get_many("t", "order", ["se:2"])["se:2"].detail == big
    assert [r.detail for r in ledger.records("t", "order", ["mapped"])] == [big, big]
    assert ledger.audit("t", "order", "se:1")[-1]["payload"] == {"document": big}
    assert ledger.audit("t", "order", "se:2")[-1]["payload"] == big
    assert ledger.open_quarantine("t")[0].payload == big

    # a row as jetfort wrote it before packing: plain JSON text, read as before
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE records SET detail = :d WHERE source_key = 'se:1'"), {"d": json.dumps(big)})
    assert _stored(ledger, "SELECT typeof(detail) FROM records WHERE source_key = 'se:1'") == [("text",)]
    assert ledger.get("t", "order", "se:1").detail == big  # type: ignore[union-attr]
