"""Ledger retention: old audit payloads go, the trail and the links stay (SQLite and PostgreSQL).

The oracle is the database itself, read with plain SQL: which audit rows still hold a payload, and
that the records' own columns are byte for byte what they were.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from jetfort.errors import PermanentError
from jetfort.ledger import Ledger
from jetfort.ledger.retention import InvalidRetentionPolicy, RetentionPolicy, compact, parse_policy
from jetfort.ledger.schema import oauth_consents

NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)
DOCUMENT = {"CustomerNumber": "1001", "InvoiceRows": [{"ArticleNumber": "1006", "Price": 129}]}


def _post(ledger: Ledger, tenant: str, kind: str, key: str) -> None:
    """An order's life in the orders flow: seen, mapped (with the document), posted (with what was sent)."""
    ledger.ensure_records(tenant, kind, [(key, {"order_number": key, "order": {"rows": [1, 2]}})])
    ledger.transition(tenant, kind, key, "mapped", step="map", payload={"document": DOCUMENT}, run_id="r1",
                      message="invoice: shop total 129")
    ledger.transition(tenant, kind, key, "posted", step="post", payload={"Invoice": DOCUMENT}, run_id="r1",
                      target_type="invoice", target_key=f"F{key}", payload_hash=f"h{key}",
                      message=f"created Fortnox invoice F{key}")


def _age(ledger: Ledger, tenant: str, key: str, days: int) -> None:
    """Every timestamp of the record and its audit moved ``days`` before NOW."""
    at = NOW - dt.timedelta(days=days)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE records SET created_at = :at, updated_at = :at WHERE tenant = :t AND source_key = :k"),
                     {"at": at, "t": tenant, "k": key})
        conn.execute(sa.text("UPDATE record_audit SET at = :at WHERE record_id IN "
                             "(SELECT id FROM records WHERE tenant = :t AND source_key = :k)"),
                     {"at": at, "t": tenant, "k": key})


def _raw(ledger: Ledger) -> dict[tuple[str, str, str], dict[str, object]]:
    """Per record: its own columns as stored, and how many of its audit rows hold a payload (SQL NULL
    or JSON null, as text or bytes, count as none)."""
    out = {}
    with ledger.engine.connect() as conn:
        for row in conn.execute(sa.text("SELECT id, tenant, kind, source_key, state, target_type, target_key, "
                                        "payload_hash, detail, updated_at FROM records")):
            audit = conn.execute(sa.text("SELECT a.step, a.message, r.run_id, a.payload FROM record_audit a "
                                         "LEFT JOIN audit_runs r ON r.id = a.run "
                                         "WHERE a.record_id = :id ORDER BY a.id"), {"id": row.id}).all()
            out[(row.tenant, row.kind, row.source_key)] = {
                "record": tuple(row)[4:],
                "steps": [tuple(a[:3]) for a in audit],
                "payloads": sum(1 for a in audit if a[3] not in (None, "null", b"null")),
            }
    return out


def test_old_records_lose_their_audit_payloads_and_keep_everything_else(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for tenant, kind, key in [("acme", "order", "se:1"), ("acme", "order", "se:2"), ("acme", "credit", "se:1:r1"),
                              ("beta", "order", "se:1"), ("beta", "order", "se:9")]:
        _post(ledger, tenant, kind, key)
    _age(ledger, "acme", "se:1", 400)
    _age(ledger, "acme", "se:1:r1", 366)
    _age(ledger, "beta", "se:1", 1000)
    _age(ledger, "acme", "se:2", 364)  # inside the year: kept
    before = _raw(ledger)
    assert all(entry["payloads"] == 2 for entry in before.values())

    done = compact(ledger, RetentionPolicy(audit_payload_days=365), now=NOW)

    after = _raw(ledger)
    old = {("acme", "order", "se:1"), ("acme", "credit", "se:1:r1"), ("beta", "order", "se:1")}
    assert {key for key, entry in after.items() if entry["payloads"] == 0} == old
    for key, entry in after.items():
        # the record itself (state, link, hash, detail, updated_at) and every audit step's text are unchanged
        assert entry["record"] == before[key]["record"], key
        assert entry["steps"] == before[key]["steps"], key
        assert [s[1] for s in entry["steps"]][-1] == f"created Fortnox invoice F{key[2]}"
        assert entry["payloads"] == (0 if key in old else 2)
    assert (done.records, done.payloads) == (3, 6)
    assert done.by_kind == {"acme": {"credit": 2, "order": 2}, "beta": {"order": 2}}
    # the audit API still tells the story, without the payloads
    trail = ledger.audit("acme", "order", "se:1")
    assert [(s["step"], s["state"]) for s in trail] == [("map", "mapped"), ("post", "posted")]
    assert [s["payload"] for s in trail] == [None, None]
    assert ledger.audit("acme", "order", "se:2")[-1]["payload"] == {"Invoice": DOCUMENT}

    again = compact(ledger, RetentionPolicy(audit_payload_days=365), now=NOW)
    assert (again.records, again.payloads) == (0, 0)  # nothing aged since: nothing read
    assert _raw(ledger) == after


def test_each_run_reads_only_what_aged_since_the_last_one(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for key, days in (("se:1", 500), ("se:2", 364), ("se:3", 200), ("se:4", 10)):
        _post(ledger, "acme", "order", key)
        _age(ledger, "acme", key, days)
    year = RetentionPolicy(audit_payload_days=365)
    assert compact(ledger, year, now=NOW).records == 1  # se:1
    later = compact(ledger, year, now=NOW + dt.timedelta(days=2))
    assert (later.records, later.payloads) == (1, 2)  # se:2 aged past the year meanwhile; se:1 not read again
    # a record changed after a run (a credit, a status) is compacted once it has aged in turn
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE records SET updated_at = :at WHERE source_key = 'se:1'"),
                     {"at": NOW - dt.timedelta(days=100)})
    ledger.transition("acme", "order", "se:1", "posted", step="credit", payload={"CreditInvoice": 1}, run_id="r9")
    assert compact(ledger, year, now=NOW + dt.timedelta(days=3)).payloads == 0
    assert compact(ledger, year, now=NOW + dt.timedelta(days=400)).payloads == 1 + 2 + 2  # se:1's new step, se:3, se:4
    # a backfilled run of an earlier date finds nothing and leaves the cursor where it was
    assert compact(ledger, year, now=NOW).records == 0
    assert {k: v["payloads"] for k, v in _raw(ledger).items()} == {
        ("acme", "order", f"se:{n}"): 0 for n in range(1, 5)}


def test_a_shorter_policy_is_caught_up_at_once(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for key, days in (("se:1", 500), ("se:2", 200), ("se:3", 10)):
        _post(ledger, "acme", "order", key)
        _age(ledger, "acme", key, days)
    compact(ledger, RetentionPolicy(audit_payload_days=365), now=NOW)
    done = compact(ledger, RetentionPolicy(audit_payload_days=30), now=NOW)
    assert (done.records, done.payloads) == (1, 2)  # se:2 alone: se:1 was done, se:3 is younger than 30 days
    assert {k[2]: v["payloads"] for k, v in _raw(ledger).items()} == {"se:1": 0, "se:2": 0, "se:3": 2}


def test_a_record_changed_recently_keeps_even_its_old_steps_payloads(ledger_url: str) -> None:
    """The policy counts from the record's last change: a credit months after the order keeps the order's story."""
    ledger = Ledger.from_url(ledger_url)
    _post(ledger, "acme", "order", "se:1")
    _age(ledger, "acme", "se:1", 500)
    with ledger.engine.begin() as conn:  # a step today (e.g. acknowledged again)
        conn.execute(sa.text("UPDATE records SET updated_at = :at WHERE source_key = 'se:1'"),
                     {"at": NOW - dt.timedelta(days=2)})
    compact(ledger, RetentionPolicy(audit_payload_days=30), now=NOW)
    assert _raw(ledger)[("acme", "order", "se:1")]["payloads"] == 2


def test_consents_older_than_their_days_are_deleted(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(oauth_consents), [
            {"state_hash": f"h{n}", "tenant": tenant, "conn_id": "fortnox_x", "user_id": "admin",
             "redirect_uri": "http://x/cb", "scopes": "invoice", "service_account": False,
             "created_at": NOW - dt.timedelta(days=days), "expires_at": NOW - dt.timedelta(days=days) + dt.timedelta(minutes=10)}
            for n, (tenant, days) in enumerate([("a", 91), ("a", 89), ("b", 200), ("c", 1)])])
    done = compact(ledger, RetentionPolicy(consent_days=90), now=NOW)
    with ledger.engine.connect() as conn:
        left = set(conn.execute(sa.select(oauth_consents.c.state_hash)).scalars())
    assert left == {"h1", "h3"}
    assert done.consents == 2


@pytest.mark.parametrize(("raw", "named"), [
    ("{not json", "is not JSON"),
    ("[365]", "must be a JSON object"),
    ('{"audit_payload_days": 0}', "audit_payload_days"),
    ('{"audit_payload_days": "a year"}', "audit_payload_days"),
    ('{"audit_days": 30}', "audit_days"),
])
def test_an_unreadable_policy_is_an_error_naming_the_key_never_a_default(raw: str, named: str) -> None:
    with pytest.raises(InvalidRetentionPolicy, match=named) as caught:
        parse_policy(raw)
    assert isinstance(caught.value, PermanentError)  # the task fails at once, no retries


def test_no_policy_is_a_year_of_audit_payloads() -> None:
    assert parse_policy(None) == parse_policy("") == RetentionPolicy(audit_payload_days=365, consent_days=90)
    assert parse_policy('{"audit_payload_days": 30}').audit_payload_days == 30
