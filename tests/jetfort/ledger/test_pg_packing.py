"""PostgreSQL stores the ledger's JSON values packed, as SQLite does (since revision 0010): large ones as
``bytea`` holding zlib against the preset dictionary, small ones as their JSON's bytes; a ledger of an
older jetfort reads the same values after the upgrade and again after the downgrade; SQLite's stored
values are untouched by both. Oracles: the standard library's zlib and json over the bytes read with
plain SQL, PostgreSQL's own catalog of column types, and values written with plain SQL at revision 0009."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger, zdict
from jetfort.ledger.engine import make_engine
from jetfort.ledger.migrate import current_revision, downgrade, upgrade
from jetfort.ledger.packing import UnreadablePacked

NOW = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
#: the JSON columns, as (table, column)
COLUMNS = [("records", "detail"), ("record_audit", "payload"), ("quarantine", "payload"),
           ("shop_inbox", "payload"), ("catalog_snapshots", "data")]


def _detail(n: int) -> dict[str, Any]:
    """An order's record detail, trimmed: the shop order and the document, with values of its own."""
    rows = [{"row_id": i, "article_number": f"A-{n}-{i}", "name": f"Artikel {n}/{i} ÅÄÖ", "quantity": "2.0000",
             "unit_price_inc_vat": f"{100 + i}.0000", "vat_rate": "0.25000000"} for i in range(1, 6)]
    return {"shop": "se", "order_id": n, "order_number": str(n), "currency": "SEK",
            "order": {"order_id": n, "billing": {"first_name": f"Förnamn{n}", "city": f"Ort{n}"}, "rows": rows},
            "document": {"InvoiceRows": [{"ArticleNumber": r["article_number"], "Price": 100 + i, "VAT": 25}
                                         for i, r in enumerate(rows)]}}


def _plain(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _inflate(stored: bytes) -> Any:
    """The standard library's zlib with the dictionary the header names (RFC 1950 DICTID), then json."""
    assert stored[0] == 0x78 and stored[1] & 0x20
    assert int.from_bytes(stored[2:6], "big") == zlib.adler32(zdict.CURRENT)
    inflater = zlib.decompressobj(zdict=zdict.CURRENT)
    return json.loads(inflater.decompress(stored) + inflater.flush())


def _raw(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in conn.exec_driver_sql(sql)]


def _column_types(engine: sa.Engine) -> set[str]:
    """The types PostgreSQL's catalog gives the JSON columns."""
    wanted = ", ".join(f"('{table}', '{column}')" for table, column in COLUMNS)
    found = _raw(engine, "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()"
                         f" AND (table_name, column_name) IN ({wanted})")
    assert len(found) == len(COLUMNS)
    return {data_type for (data_type,) in found}


def test_large_values_are_stored_as_bytea_that_zlib_with_the_dictionary_inflates(postgres_url: str) -> None:
    ledger = Ledger.from_url(postgres_url)
    big, other = _detail(1), _detail(2)
    ledger.ensure_records("t", "order", [("se:1", big), ("se:2", None)])
    ledger.transition("t", "order", "se:1", "mapped", step="map", payload={"document": big["document"]}, run_id="r")
    ledger.transition_many("t", "order", [{"source_key": "se:2", "state": "mapped", "step": "map",  # the batch path
                                           "detail": other, "payload": other, "run_id": "r"}])
    ledger.quarantine("t", "order", "se:3", reason="r", message="m", payload=big)
    ledger.inbox_put("norce", "1000", {"ClientOrderRef": "1000", "Items": big["order"]["rows"]})
    ledger.save_snapshot("t", "fortnox", "article", [("A-1", "h1", big["order"])])

    assert _column_types(ledger.engine) == {"bytea"}
    details = dict(_raw(ledger.engine, "SELECT source_key, detail FROM records WHERE source_key IN ('se:1', 'se:2')"))
    assert _inflate(details["se:1"]) == big and _inflate(details["se:2"]) == other
    assert len(details["se:1"]) < len(_plain(big)) / 3
    payloads = [p for (p,) in _raw(ledger.engine, "SELECT payload FROM record_audit ORDER BY id")]
    assert [_inflate(p) for p in payloads] == [{"document": big["document"]}, other, big]
    [(quarantined,)] = _raw(ledger.engine, "SELECT payload FROM quarantine")
    [(pushed,)] = _raw(ledger.engine, "SELECT payload FROM shop_inbox")
    [(snapshot,)] = _raw(ledger.engine, "SELECT data FROM catalog_snapshots")
    assert (_inflate(quarantined), _inflate(pushed)["Items"], _inflate(snapshot)) == (big, big["order"]["rows"],
                                                                                       big["order"])

    # and read back through every path
    assert ledger.get("t", "order", "se:1").detail == big  # type: ignore[union-attr]
    assert ledger.get_many("t", "order", ["se:2"])["se:2"].detail == other
    assert [a["payload"] for a in ledger.audit("t", "order", "se:1")] == [{"document": big["document"]}]
    assert ledger.audit_of_run("t", "order", "r")["se:2"]["detail"] == other
    assert ledger.open_quarantine("t")[0].payload == big
    assert ledger.inbox_get("norce", "1000").payload["Items"] == big["order"]["rows"]  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [{"order_number": "1"}, [1, "två", None], "x", 0, True, None])
def test_small_values_are_stored_as_their_json_and_read_back(postgres_url: str, value: Any) -> None:
    ledger = Ledger.from_url(postgres_url)
    ledger.ensure_records("t", "order", [("se:1", None)])
    ledger.transition("t", "order", "se:1", "mapped", step="map", detail={"v": value}, payload=value)
    ledger.transition_many("t", "order", [{"source_key": "se:1", "state": "posted", "step": "post", "payload": value}])
    [(detail,)] = _raw(ledger.engine, "SELECT detail FROM records")
    payloads = [p for (p,) in _raw(ledger.engine, "SELECT payload FROM record_audit ORDER BY id")]
    assert detail == _plain({"v": value}) and payloads == [_plain(value)] * 2  # None: JSON null, as before
    assert ledger.get("t", "order", "se:1").detail == {"v": value}  # type: ignore[union-attr]
    assert [a["payload"] for a in ledger.audit("t", "order", "se:1")] == [value, value]


def _foreign_dictionary_stream() -> tuple[bytes, int]:
    other = b'{"order":{"rows":[]}}' * 10
    compressor = zlib.compressobj(6, zdict=other)
    return compressor.compress(_plain(_detail(3))) + compressor.flush(), zlib.adler32(other)


def test_a_value_naming_an_unknown_dictionary_is_an_error_naming_it(postgres_url: str) -> None:
    ledger = Ledger.from_url(postgres_url)
    ledger.ensure_records("t", "order", [("se:1", _detail(1))])
    stream, dict_id = _foreign_dictionary_stream()
    with ledger.engine.begin() as conn:  # as a newer jetfort, with a dictionary this one lacks, would write it
        conn.execute(sa.text("UPDATE records SET detail = :d"), {"d": stream})
    with pytest.raises(UnreadablePacked, match=f"dictionary {dict_id:08x}.*newer jetfort"):
        ledger.get("t", "order", "se:1")
    # nor does the downgrade turn it into anything: it stops naming the row, and nothing changes
    with pytest.raises(UnreadablePacked, match=f"records.detail of the row with id 1: .*dictionary {dict_id:08x}"):
        downgrade(ledger.engine, "0009")
    assert current_revision(ledger.engine) == "0010" and _column_types(ledger.engine) == {"bytea"}
    assert _raw(ledger.engine, "SELECT detail FROM records") == [(stream,)]


#: what an older jetfort stored at revision 0009 (records: one large, one small, JSON null and SQL NULL)
OLD_DETAILS = {"se:1": _detail(1), "se:2": {"order_number": "2"}, "se:3": None}


def _old_ledger(url: str) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine, "0009")
    as_json = "CAST(:v AS JSON)" if engine.dialect.name == "postgresql" else ":v"
    with engine.begin() as conn:
        for key, detail in OLD_DETAILS.items():
            conn.execute(sa.text("INSERT INTO records (tenant, kind, source_key, state, attempts, detail, created_at, "
                                 f"updated_at) VALUES ('t', 'order', :k, 'posted', 0, {as_json}, :now, :now)"),
                         {"k": key, "v": json.dumps(detail), "now": NOW})
        conn.execute(sa.text("INSERT INTO records (tenant, kind, source_key, state, attempts, created_at, updated_at)"
                             " VALUES ('t', 'order', 'se:4', 'seen', 0, :now, :now)"), {"now": NOW})
        conn.execute(sa.text("INSERT INTO record_audit (record_id, at, step, state, payload) SELECT id, :now, 'post',"
                             f" 'posted', {as_json} FROM records WHERE source_key = 'se:1'"),
                     {"v": json.dumps({"Invoice": _detail(1)["document"]}), "now": NOW})
        conn.execute(sa.text("INSERT INTO quarantine (tenant, kind, source_key, reason, message, payload, attempts, "
                             f"first_at, last_at) VALUES ('t', 'order', 'se:5', 'r', 'm', {as_json}, 1, :now, :now)"),
                     {"v": json.dumps(_detail(5)), "now": NOW})
        conn.execute(sa.text("INSERT INTO shop_inbox (shop, ref, payload, payload_hash, received_at, last_pushed_at) "
                             f"VALUES ('norce', '7', {as_json}, 'h', :now, :now)"),
                     {"v": json.dumps({"ClientOrderRef": "7"}), "now": NOW})
    return engine


def _json_values(engine: sa.Engine) -> dict[str, Any]:
    """Every JSON value as stored in the JSON columns of revision 0009, read with plain SQL."""
    out: dict[str, Any] = {}
    for table, column in COLUMNS:
        key = "tenant || side || entity || key" if table == "catalog_snapshots" else "id"
        for name, value in _raw(engine, f"SELECT {key}, CAST({column} AS TEXT) FROM {table}"):
            out[f"{table}:{name}"] = "SQL NULL" if value is None else json.loads(value)
    return out


def _packed_values(engine: sa.Engine) -> dict[str, Any]:
    """Every JSON value as stored in the bytea columns of revision 0010, read with plain SQL: zlib (inflated
    here) or JSON bytes."""
    out: dict[str, Any] = {}
    for table, column in COLUMNS:
        key = "tenant || side || entity || key" if table == "catalog_snapshots" else "id"
        for name, value in _raw(engine, f"SELECT {key}, {column} FROM {table}"):
            out[f"{table}:{name}"] = ("SQL NULL" if value is None else _inflate(value) if value[:1] == b"x"
                                      else json.loads(value))
    return out


def test_a_ledger_of_revision_0009_reads_the_same_values_after_the_upgrade_and_after_the_downgrade(
        postgres_url: str) -> None:
    engine = _old_ledger(postgres_url)
    before = _json_values(engine)
    upgrade(engine)
    assert current_revision(engine) == "0010" and _column_types(engine) == {"bytea"}
    ledger = Ledger(engine)
    # the values as read by the ledger, and as stored: their JSON's bytes, until written again
    assert {key: ledger.get("t", "order", key).detail for key in OLD_DETAILS} == OLD_DETAILS  # type: ignore[union-attr]
    assert ledger.get("t", "order", "se:4").detail is None  # type: ignore[union-attr]
    assert ledger.audit("t", "order", "se:1")[0]["payload"] == {"Invoice": _detail(1)["document"]}
    assert ledger.open_quarantine("t")[0].payload == _detail(5)
    assert ledger.inbox_get("norce", "7").payload == {"ClientOrderRef": "7"}  # type: ignore[union-attr]
    assert _raw(engine, "SELECT detail FROM records WHERE source_key = 'se:1'") == [(json.dumps(_detail(1)).encode(),)]

    # written after the upgrade: packed; many catalog rows, so that the downgrade unpacks them in several batches
    ledger.transition("t", "order", "se:2", "credited", step="credit", detail=_detail(2), payload=_detail(6))
    ledger.save_snapshot("t", "fortnox", "article", [(f"A-{n}", f"h{n}", _detail(n)) for n in range(1200)])
    ledger.save_snapshot("t", "shop", "article", [("A-1", "h", {"small": 1})])
    after = _packed_values(engine)
    assert after["records:2"] == _detail(2) and after["catalog_snapshots:tfortnoxarticleA-1199"] == _detail(1199)

    downgrade(engine, "0009")
    assert current_revision(engine) == "0009" and _column_types(engine) == {"json"}
    assert _json_values(engine) == after
    expected = {**before, "records:2": _detail(2)}
    assert {k: v for k, v in _json_values(engine).items() if k in before} == expected
    engine.dispose()


def test_on_sqlite_the_migration_leaves_every_stored_value_as_it_was(sqlite_url: str) -> None:
    engine = _old_ledger(sqlite_url)
    Ledger(engine).ensure_records("t", "order", [("se:9", _detail(9))])  # packed, as SQLite stores it at 0009
    sql = " UNION ALL ".join(f"SELECT '{t}', typeof({c}), hex({c}) FROM {t}" for t, c in COLUMNS)
    before = _raw(engine, sql)
    assert ("records", "blob") in {row[:2] for row in before}
    upgrade(engine)
    assert current_revision(engine) == "0010" and _raw(engine, sql) == before
    downgrade(engine, "0009")
    assert current_revision(engine) == "0009" and _raw(engine, sql) == before
    engine.dispose()
