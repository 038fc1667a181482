"""The SQLite ledger stores large JSON values compressed, reads them back unchanged, and still reads
the plain JSON and dictionary-less zlib rows an older jetfort wrote. Oracles: the standard library's
json and zlib, the zlib header as RFC 1950 lays it out, and SQLite's own ``typeof``/``length`` of what
is stored."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from jetfort.ledger import Ledger, zdict
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
        assert len(text) >= PACK_FROM * 0.9 and json.loads(_inflate(stored, zdict.CURRENT)) == json.loads(text)
    else:
        assert json.loads(stored) == json.loads(text)


def test_an_order_detail_is_stored_in_a_third_of_its_json() -> None:
    detail = {"order": {"rows": [{"article_number": f"10{i}", "name": "Huvtröja", "quantity": "1.0000",
                                  "unit_price_inc_vat": "599.0000", "vat_rate": "0.25000000"} for i in range(6)]},
              "document": {"InvoiceRows": [{"ArticleNumber": f"10{i}", "Price": 599, "VAT": 25} for i in range(6)]}}
    stored = pack(detail)
    assert isinstance(stored, bytes)
    assert len(stored) < len(json.dumps(detail, ensure_ascii=False).encode()) / 2.5


def _inflate(stored: bytes, dictionary: bytes) -> bytes:
    """The standard library's zlib, given the dictionary the stream's header names."""
    inflater = zlib.decompressobj(zdict=dictionary)
    return inflater.decompress(stored) + inflater.flush()


def _order_detail(n: int) -> dict[str, Any]:
    """An order's record detail as extract stores it, with names, streets and articles of its own."""
    address = {"company": "", "first_name": f"Förnamn{n}", "last_name": f"Efternamn{n}", "street": f"Gata {n}",
               "care_of": "", "zip_code": f"{10000 + n}", "city": f"Ort{n}", "country_code": "SE", "phone": "",
               "mobile_phone": f"07{n:08d}"}
    rows = [{"row_id": i, "article_number": f"A-{n}-{i}", "product_id": 9000 + i, "name": f"Artikel {n}/{i}",
             "variant_text": "", "row_type": "Product", "quantity": "2.0000", "unit_price_inc_vat": f"{100 + i}.0000",
             "unit_price_ex_vat": f"{80 + i}.0000", "vat_rate": "0.25000000", "discount_inc_vat": "0.0000",
             "total_inc_vat": f"{200 + 2 * i}.0000"} for i in range(1, 4)]
    order = {"shop_id": "butik", "order_id": n, "order_number": str(n), "order_date": "2026-03-01T10:00:00+01:00",
             "modified_date": "2026-03-01T10:05:00+01:00", "status_id": 1, "status_name": "Ny", "channel_id": 1,
             "culture": "sv-SE", "currency": "SEK", "currency_rate": "1.0000",
             "customer": {"customer_id": None, "email": f"kund{n}@example.org", "company_name": "", "org_number": "",
                          "vat_number": ""}, "billing": address, "delivery": address, "rows": rows,
             "delivery_method": "Hemleverans", "freight_inc_vat": "59.0000", "freight_vat_rate": "0.25000000",
             "payment": {"method": "Kort", "provider": "Adyen", "transaction_id": f"TX{n}", "status": "Authorized",
                         "authorized_amount": "665.0000", "captured_amount": "0.0000", "fee_inc_vat": "0.0000",
                         "fee_vat_rate": "0.25000000"}, "discount_code": "", "order_discount_inc_vat": "0.0000",
             "total_inc_vat": "665.0000", "total_ex_vat": "532.0000", "vat_total": "133.0000", "tracking_number": "",
             "tracking_url": "", "comment": "", "returns": []}
    return {"shop": "se", "order_id": n, "order_number": str(n), "currency": "SEK", "total": "665.0000",
            "payment_provider": "Adyen", "authorized_amount": "665.0000", "channel_id": 1,
            "order_date": order["order_date"], "status_id": 1, "order": order, "doc_kind": "invoice",
            "idempotency_key": f"jetfort:se:{n}", "idempotency_field": "ExternalInvoiceReference1",
            "totals": {"shop_total": "665.0000", "fortnox_total": "665"}, "notes": [], "customer_number": str(n)}


def test_a_packed_value_names_its_dictionary_in_the_zlib_header() -> None:
    stored = pack(_order_detail(1))
    assert isinstance(stored, bytes)
    cmf, flg = stored[0], stored[1]
    assert (cmf * 256 + flg) % 31 == 0 and flg & 0x20  # RFC 1950: FDICT set, DICTID follows
    assert int.from_bytes(stored[2:6], "big") == zlib.adler32(zdict.CURRENT)
    assert json.loads(_inflate(stored, zdict.CURRENT)) == _order_detail(1)


def test_the_released_dictionaries_never_change() -> None:
    # rows name their dictionary by checksum and need exactly its bytes: an edited dictionary would make
    # every row written with it unreadable. A new dictionary is a new entry, never an edit.
    assert {f"{k:08x}" for k in zdict.DICTIONARIES} == {"af1fb55a"}
    assert all(zlib.adler32(v) == k for k, v in zdict.DICTIONARIES.items())
    assert zlib.adler32(zdict.CURRENT) in zdict.DICTIONARIES


def test_the_dictionary_stores_an_order_record_in_under_two_thirds_of_plain_zlib() -> None:
    details = [_order_detail(n) for n in range(100, 120)]
    packed = sum(len(pack(d)) for d in details)
    plain = sum(len(zlib.compress(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode(), 6))
                for d in details)
    whole = sum(len(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()) for d in details)
    assert packed < plain * 2 / 3 and packed < whole / 4, (packed, plain, whole)
    assert [unpack(pack(d)) for d in details] == details


def test_zlib_without_a_dictionary_an_older_jetfort_wrote_still_reads() -> None:
    old = zlib.compress(json.dumps(_order_detail(7)).encode())
    assert not old[1] & 0x20
    assert unpack(old) == _order_detail(7)


def test_a_value_naming_an_unknown_dictionary_is_an_error_naming_it() -> None:
    other = b'{"order":{"rows":[]}}' * 10
    compressor = zlib.compressobj(6, zdict=other)
    stored = compressor.compress(json.dumps(_order_detail(3)).encode()) + compressor.flush()
    with pytest.raises(UnreadablePacked, match=f"dictionary {zlib.adler32(other):08x}.*newer jetfort"):
        unpack(stored)


def test_a_value_cut_short_is_an_error_not_a_partial_value() -> None:
    stored = pack(_order_detail(4))
    assert isinstance(stored, bytes)
    with pytest.raises(UnreadablePacked, match="cut short"):
        unpack(stored[:-8])


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
