"""Ledger retention: how long the audit keeps what was sent, and what it keeps forever.

Every step a record goes through writes an audit row, and the steps that send something keep it
(the mapped document, the invoice as posted, the customer created). That detail is what a person
needs while an order is recent: to see what jetfort sent, to retry, to answer the accountant. After
``audit_payload_days`` without any change to the record, :func:`compact` drops the payloads of its
audit rows and keeps the rows themselves: the step, state, message, time and Airflow run of each
step stay readable on the jetfort page.

Kept forever, whatever the policy: the records (the link from a shop order to its Fortnox document,
the idempotency facts, the payload hash, the detail later flows read: the order as posted, which a
credit note is computed from), the quarantine and its notes, the cursors. Consents to Fortnox are
deleted ``consent_days`` after they started (the tokens they gave live in the token store).

The policy is the Airflow Variable ``jetfort_ledger_retention`` (JSON, every key optional), read by
the ``jetfort_ledger_retention`` DAG at run time.

Every query here is answered from an index (``tests/jetfort/ledger/test_query_plans.py``): the
tenants and kinds are found by a loose scan of the records' unique index, one seek per pair.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jetfort.errors import PermanentError
from jetfort.ledger.schema import oauth_consents, record_audit, records
from jetfort.ledger.store import Ledger, as_utc, utcnow

log = logging.getLogger(__name__)

VARIABLE = "jetfort_ledger_retention"
#: records whose audit is compacted in one statement
CHUNK = 500


class RetentionPolicy(BaseModel):
    """What the ledger keeps, in days. The defaults keep a year of audit detail: returns and complaints
    of the last year can be traced to what was sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    audit_payload_days: int = Field(default=365, ge=1, description="keep the audit payloads of a record this many days "
                                                             "after its last change")
    consent_days: int = Field(default=90, ge=1, description="keep a Fortnox consent's row this many days after it started")


class InvalidRetentionPolicy(PermanentError, ValueError):
    """The Variable holds something that is not a retention policy; nothing is compacted."""


def parse_policy(raw: str | None) -> RetentionPolicy:
    """The policy from the Variable's text (``None``: the defaults). An unreadable value is an error
    naming the key, never a default: a typo must not delete a year of audit detail on its own terms."""
    if raw is None or not raw.strip():
        return RetentionPolicy()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRetentionPolicy(f"Variable {VARIABLE} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRetentionPolicy(f"Variable {VARIABLE} must be a JSON object, got {type(data).__name__}")
    try:
        return RetentionPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise InvalidRetentionPolicy(f"Variable {VARIABLE}: {problems}") from None


@dataclass
class Compacted:
    """What one :func:`compact` did, per tenant and kind and in all."""

    cutoff: dt.datetime
    records: int = 0  # records that aged past the cutoff since the last run (their audit looked at)
    payloads: int = 0  # audit payloads dropped
    consents: int = 0  # consent rows deleted
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # tenant → kind → payloads dropped

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "records": self.records, "payloads": self.payloads,
                "consents": self.consents, "by_kind": self.by_kind}


def compact(ledger: Ledger, policy: RetentionPolicy, *, now: dt.datetime | None = None,
            chunk: int = CHUNK) -> Compacted:
    """Drop the audit payloads of records unchanged for ``policy.audit_payload_days`` and delete old
    consents. Idempotent; each chunk is its own transaction, so a run stopped half-way loses nothing
    and the next run finishes it.

    Incremental: per tenant and kind a cursor (:func:`cursor_name`) remembers the cutoff compacted up to,
    and a run reads only the records that aged past it since (a day's worth, not the whole past). A
    record changed later has a later ``updated_at`` and is read again once that ages. A shorter policy
    moves the cutoff on and is caught up at once; a longer one, or a backfilled run of an earlier date,
    finds nothing new (what was dropped stays dropped)."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=policy.audit_payload_days)
    done = Compacted(cutoff=cutoff)
    with ledger.engine.connect() as conn:
        pairs = list(_tenants_and_kinds(conn))
    for tenant, kind in pairs:
        stored = ledger.get_cursor(tenant, cursor_name(kind))
        done_until = as_utc(dt.datetime.fromisoformat(stored)) if stored is not None else None
        if done_until is not None and done_until >= cutoff:
            continue  # nothing has aged past the cutoff since a run compacted up to it
        query = sa.select(records.c.id).where(records.c.tenant == tenant, records.c.kind == kind,
                                              records.c.updated_at < cutoff)
        if done_until is not None:
            query = query.where(records.c.updated_at >= done_until)
        with ledger.engine.connect() as conn:
            ids = list(conn.execute(query).scalars())
        dropped = 0
        for start in range(0, len(ids), chunk):
            with ledger.transaction() as conn:
                dropped += conn.execute(
                    sa.update(record_audit)
                    .where(record_audit.c.record_id.in_(ids[start:start + chunk]), record_audit.c.payload.is_not(None))
                    .values(payload=sa.null())).rowcount
        ledger.set_cursor(tenant, cursor_name(kind), cutoff.isoformat())
        done.records += len(ids)
        done.payloads += dropped
        if ids:
            done.by_kind.setdefault(tenant, {})[kind] = dropped
    done.consents = _delete_consents(ledger, now - dt.timedelta(days=policy.consent_days))
    log.info("ledger retention: audit payloads of records unchanged since %s dropped: %d (of %d records); "
             "consents deleted: %d", cutoff.isoformat(), done.payloads, done.records, done.consents)
    return done


def cursor_name(kind: str) -> str:
    """The tenant's cursor up to which the records of ``kind`` were compacted (a record changed after it
    moves past it again, and is compacted when it ages)."""
    return f"retention:audit:{kind}"


def _tenants_and_kinds(conn: sa.Connection) -> Iterator[tuple[str, str]]:
    """Each (tenant, kind) with records, by seeks on the records' unique index (tenant, kind, source_key)."""
    tenant = conn.execute(sa.select(sa.func.min(records.c.tenant))).scalar()
    while tenant is not None:
        kind = conn.execute(sa.select(sa.func.min(records.c.kind)).where(records.c.tenant == tenant)).scalar()
        while kind is not None:
            yield tenant, kind
            kind = conn.execute(sa.select(sa.func.min(records.c.kind))
                                .where(records.c.tenant == tenant, records.c.kind > kind)).scalar()
        tenant = conn.execute(sa.select(sa.func.min(records.c.tenant)).where(records.c.tenant > tenant)).scalar()


def _delete_consents(ledger: Ledger, before: dt.datetime) -> int:
    """Consents started before ``before``, per tenant through the (tenant, created_at) index."""
    c = oauth_consents.c
    deleted = 0
    with ledger.transaction() as conn:
        tenant = conn.execute(sa.select(sa.func.min(c.tenant))).scalar()
        while tenant is not None:
            deleted += conn.execute(sa.delete(oauth_consents)
                                    .where(c.tenant == tenant, c.created_at < before)).rowcount
            tenant = conn.execute(sa.select(sa.func.min(c.tenant)).where(c.tenant > tenant)).scalar()
    return deleted
