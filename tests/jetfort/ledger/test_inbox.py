"""The shop inbox on SQLite and PostgreSQL: a pushed order is stored once, counted, read back as sent,
and leaves the pending list only when the orders flow consumed what it read."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger.migrate import current_revision

SHOP = "norce_demo"

#: An OrderRequest as Norce pushes it (norce-api.md §2a), trimmed to a few fields.
ORDER = {
    "Header": {"ApplicationKey": "2c1e1a5e-7f44-4f3e-9a57-1f0b2b5c0d11"},
    "ClientOrderRef": "1000123",
    "CurrencyCode": "SEK",
    "SellTo": {"Company": None, "Person": {"Email": "anna@example.se", "FirstName": "Anna", "LastName": "Ö"}},
    "Items": [{"LineNo": 1, "PartNo": "ART-1", "Quantity": 2, "Quantity2": 2.5, "UnitPrice": 79.2,
               "UnitVat": 19.8, "VatRate": 25, "Type": "ErpStandard", "TypeGroup": "Physical"}],
    "Payments": [{"PaymentCode": 7, "PaymentRef": "psp-9f2", "Amount": 198.0}],
}


def test_migration_0004_creates_the_inbox(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    assert current_revision(ledger.engine) == "0010"
    columns = {c["name"] for c in sa.inspect(ledger.engine).get_columns("shop_inbox")}
    assert {"shop", "ref", "payload", "received_at", "push_count", "consumed_at", "last_error"} <= columns


def test_a_push_is_stored_and_read_back_exactly(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    before = dt.datetime.now(dt.UTC)
    assert ledger.inbox_put(SHOP, "1000123", ORDER) is True
    [entry] = ledger.inbox_pending(SHOP)
    assert (entry.shop, entry.ref, entry.push_count, entry.consumed_at, entry.last_error) == \
        (SHOP, "1000123", 1, None, None)
    assert entry.payload == ORDER  # non-ASCII, nulls, decimals as sent
    assert entry.payload["Items"][0]["Quantity2"] == 2.5
    assert before <= entry.received_at <= dt.datetime.now(dt.UTC)
    assert entry.received_at.tzinfo is not None


def test_a_duplicate_push_is_stored_once_and_counted(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    assert ledger.inbox_put(SHOP, "1000123", ORDER) is True
    reordered = dict(reversed(list(ORDER.items())))  # same JSON value, other key order
    assert ledger.inbox_put(SHOP, "1000123", reordered) is False
    assert ledger.inbox_put(SHOP, "1000123", ORDER) is False
    [entry] = ledger.inbox_pending(SHOP)
    assert entry.push_count == 3
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM shop_inbox")).scalar_one() == 1


def test_the_same_ref_in_two_shops_is_two_orders(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    assert ledger.inbox_put(SHOP, "1000123", ORDER)
    assert ledger.inbox_put("norce_other", "1000123", ORDER)
    assert [e.ref for e in ledger.inbox_pending(SHOP)] == ["1000123"]
    assert [e.shop for e in ledger.inbox_pending("norce_other")] == ["norce_other"]


def test_pending_is_oldest_first_and_limited(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for ref in ("30", "10", "20"):
        ledger.inbox_put(SHOP, ref, {**ORDER, "ClientOrderRef": ref})
    assert [e.ref for e in ledger.inbox_pending(SHOP)] == ["30", "10", "20"]  # arrival order, not ref order
    assert [e.ref for e in ledger.inbox_pending(SHOP, limit=2)] == ["30", "10"]
    assert ledger.inbox_count_pending(SHOP) == 3
    with pytest.raises(ValueError, match="limit"):
        ledger.inbox_pending(SHOP, limit=0)


def test_consumed_rows_leave_the_pending_list_but_stay_stored(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for ref in ("1", "2", "3"):
        ledger.inbox_put(SHOP, ref, {**ORDER, "ClientOrderRef": ref})
    assert ledger.inbox_mark_consumed(SHOP, ["1", "3", "404"]) == 2
    assert [e.ref for e in ledger.inbox_pending(SHOP)] == ["2"]
    kept = ledger.inbox_get(SHOP, "1")
    assert kept is not None and kept.consumed_at is not None and kept.payload["ClientOrderRef"] == "1"
    assert ledger.inbox_mark_consumed(SHOP, ["1"]) == 0  # already consumed
    # a repeat of a consumed order with the same content does not bring it back
    assert ledger.inbox_put(SHOP, "1", {**ORDER, "ClientOrderRef": "1"}) is False
    assert [e.ref for e in ledger.inbox_pending(SHOP)] == ["2"]


def test_a_changed_repeat_replaces_the_payload_and_is_pending_again(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.inbox_put(SHOP, "1000123", ORDER)
    ledger.inbox_mark_consumed(SHOP, ["1000123"])
    changed = {**ORDER, "CustomerOrderComment": "leave at the door"}
    assert ledger.inbox_put(SHOP, "1000123", changed) is True
    [entry] = ledger.inbox_pending(SHOP)
    assert entry.payload["CustomerOrderComment"] == "leave at the door" and entry.push_count == 2


def test_consuming_what_was_read_keeps_a_replacement_that_arrived_since(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.inbox_put(SHOP, "1000123", ORDER)
    ledger.inbox_put(SHOP, "77", {**ORDER, "ClientOrderRef": "77"})
    read = {e.ref: e.payload_hash for e in ledger.inbox_pending(SHOP)}
    ledger.inbox_put(SHOP, "1000123", {**ORDER, "CurrencyCode": "EUR"})  # pushed again while the DAG ran
    assert ledger.inbox_mark_consumed(SHOP, read) == 1  # only "77" is what was read
    [entry] = ledger.inbox_pending(SHOP)
    assert (entry.ref, entry.payload["CurrencyCode"]) == ("1000123", "EUR")


def test_a_noted_error_keeps_the_row_pending(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.inbox_put(SHOP, "x-1", {**ORDER, "ClientOrderRef": "x-1"})
    assert ledger.inbox_note_error(SHOP, "x-1", "ClientOrderRef 'x-1' is not a whole number") is True
    assert ledger.inbox_note_error(SHOP, "nope", "whatever") is False
    [entry] = ledger.inbox_pending(SHOP)
    assert entry.last_error == "ClientOrderRef 'x-1' is not a whole number"


@pytest.mark.parametrize("ref", ["", "x" * 201])
def test_a_ref_the_inbox_cannot_key_is_refused(sqlite_url: str, ref: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    with pytest.raises(ValueError, match="order ref"):
        ledger.inbox_put(SHOP, ref, ORDER)
    assert ledger.inbox_pending(SHOP) == []


def _push_many(url: str, start: int, count: int) -> None:
    ledger = Ledger.from_url(url, migrate_schema=False)
    for i in range(count):
        ledger.inbox_put(SHOP, str(start + i % 5), {**ORDER, "ClientOrderRef": str(start + i % 5)})


def test_concurrent_duplicate_pushes_are_stored_once(ledger_url: str) -> None:
    """Norce retrying while the first call is still running: two processes push the same five orders."""
    Ledger.from_url(ledger_url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_push_many, args=(ledger_url, 500, 20)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    entries = Ledger.from_url(ledger_url).inbox_pending(SHOP)
    assert sorted(e.ref for e in entries) == ["500", "501", "502", "503", "504"]
    assert sum(e.push_count for e in entries) == 40
