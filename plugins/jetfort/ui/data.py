"""What the jetfort page reads from and writes to the ledger: the open quarantine (less what a person
dismissed), dismissals with their note, the trail of one shop order, and a tenant's counts, Fortnox
request budget and token health.

Token health reads only the token rows' expiry, version and last change: the encrypted token columns
are never selected here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from jetfort.ledger.schema import (
    audit_runs,
    oauth_tokens,
    quarantine,
    quarantine_notes,
    record_audit,
    records,
    request_log,
)
from jetfort.ledger.store import Ledger, as_utc, utcnow

#: the orders flow's ledger kind (jetfort.tasks.orders.common.KIND): the kind a retry re-runs
ORDER_KIND = "order"
#: kinds whose trail rows are the shop order's own key, and kinds keyed ``<shop>:<order id>:<more>``
TRAIL_EXACT = ("order", "order_status", "capture")
TRAIL_PREFIXED = ("status", "credit")
#: kinds whose source key starts with the shop key
SHOP_KEYED = ("order", "order_status", "status", "capture", "credit", "product", "price", "stock")
#: payload keys shown masked (a payload is whatever a flow stored; nothing secret belongs there, but
#: the page never relies on that)
SECRET_KEY = re.compile(r"secret|passw|token|authori[sz]ation|api[_-]?key|private|credential|cookie", re.I)
MASK = "•••"


class NotFound(LookupError):
    """The quarantine entry or record named does not exist (or is not open)."""


@dataclass(frozen=True)
class Entry:
    """One open quarantine entry as the page shows it."""

    tenant: str
    kind: str
    source_key: str
    shop: str | None
    order_number: str | None
    order_id: str | None
    reason: str
    field: str | None
    code: str | None
    message: str
    payload: Any
    attempts: int
    first_at: dt.datetime
    last_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in ("tenant", "kind", "source_key", "shop", "order_number", "order_id",
                                                  "reason", "field", "code", "message", "payload", "attempts")},
                "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat()}


@dataclass
class Counts:
    orders_today: int = 0
    quarantined: int = 0
    held: int = 0


@dataclass(frozen=True)
class TokenHealth:
    """One stored Fortnox token of a company: when it expires and when it was last refreshed."""

    key_client: str  # the client id part of the ledger key (a public identifier, not a secret)
    expires_at: dt.datetime | None
    refreshed_at: dt.datetime | None
    version: int

    def status(self, now: dt.datetime | None = None) -> str:
        if self.version == 0 or self.expires_at is None:
            return "no token stored"
        left = (self.expires_at - (now or utcnow())).total_seconds()
        return f"valid for {int(left // 60)} min" if left > 0 else f"expired {int(-left // 60)} min ago (refreshed on use)"


@dataclass
class TrailStep:
    at: dt.datetime
    kind: str
    source_key: str
    step: str
    state: str
    message: str
    run_id: str | None
    target: str | None = None
    links: dict[str, str] = field(default_factory=dict)


def masked(value: Any) -> Any:
    """``value`` with every item under a secret-looking key replaced by :data:`MASK`."""
    if isinstance(value, Mapping):
        return {k: MASK if SECRET_KEY.search(str(k)) else masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _not_dismissed() -> Any:
    """No note dismisses the entry (same key and the same reason, field and code)."""
    n = quarantine_notes.c
    q = quarantine.c
    return ~sa.exists().where(n.tenant == q.tenant, n.kind == q.kind, n.source_key == q.source_key,
                              n.reason == q.reason, n.field.is_not_distinct_from(q.field),
                              n.code.is_not_distinct_from(q.code))


def open_entries(ledger: Ledger, tenants: Iterable[str], *, tenant: str | None = None, shop: str | None = None,
                 reason: str | None = None, kind: str | None = None, source_key: str | None = None) -> list[Entry]:
    """Open, not dismissed quarantine entries of ``tenants``, filtered, oldest first."""
    wanted = [t for t in tenants if tenant in (None, "", t)]
    if not wanted:
        return []
    q = quarantine.c
    query = (sa.select(quarantine, records.c.detail)
             .join(records, sa.and_(records.c.tenant == q.tenant, records.c.kind == q.kind,
                                    records.c.source_key == q.source_key), isouter=True)
             .where(q.tenant.in_(wanted), q.resolved_at.is_(None), _not_dismissed()))
    if shop:
        query = query.where(q.kind.in_(SHOP_KEYED), q.source_key.startswith(f"{shop}:", autoescape=True))
    if reason:
        query = query.where(q.reason == reason)
    if kind:
        query = query.where(q.kind == kind)
    if source_key:
        query = query.where(q.source_key == source_key)
    with ledger.engine.connect() as conn:
        rows = conn.execute(query.order_by(q.tenant, q.first_at, q.id)).all()
    return [_entry(row) for row in rows]


def _entry(row: Any) -> Entry:
    detail = row.detail or {}
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    shop, order_id = None, None
    if row.kind in SHOP_KEYED and ":" in row.source_key:
        shop, rest = row.source_key.split(":", 1)
        order_id = rest.split(":", 1)[0] if row.kind not in ("product", "price", "stock") else None
    number = detail.get("order_number") or payload.get("order_number")
    return Entry(row.tenant, row.kind, row.source_key, shop, None if number is None else str(number),
                 None if order_id is None else str(detail.get("order_id") or order_id), row.reason, row.field,
                 row.code, row.message, masked(row.payload), row.attempts, as_utc(row.first_at),  # type: ignore[arg-type]
                 as_utc(row.last_at))  # type: ignore[arg-type]


def reasons(ledger: Ledger, tenants: Sequence[str]) -> list[str]:
    """The reason codes of the open quarantine of ``tenants`` (for the filter)."""
    if not tenants:
        return []
    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(quarantine.c.reason).distinct().where(
            quarantine.c.tenant.in_(list(tenants)), quarantine.c.resolved_at.is_(None)).order_by(
            quarantine.c.reason)).scalars())


def dismiss(ledger: Ledger, tenant: str, kind: str, source_key: str, *, note: str, by: str) -> dict[str, Any]:
    """Dismiss an open entry with a note: the note row and an audit row on the record (who, why)."""
    found = open_entries(ledger, [tenant], kind=kind, source_key=source_key)
    if not found:
        raise NotFound(f"tenant {tenant}: no open quarantine entry {kind} {source_key!r}")
    entry, now = found[0], utcnow()
    with ledger.transaction() as conn:
        conn.execute(sa.insert(quarantine_notes).values(
            tenant=tenant, kind=kind, source_key=source_key, reason=entry.reason, field=entry.field,
            code=entry.code, note=note, by=by, at=now))
    record = ledger.get(tenant, kind, source_key)
    if record is not None:  # the ledger's quarantine always makes one; the audit row says who and why
        ledger.transition(tenant, kind, source_key, record.state, step="dismiss", expect=[record.state],
                          message=f"quarantine ({entry.reason}) dismissed by {by}: {note}")
    return {"tenant": tenant, "kind": kind, "source_key": source_key, "reason": entry.reason, "by": by,
            "at": now.isoformat(), "note": note}


def notes(ledger: Ledger, tenant: str, kinds: Sequence[str], source_key: str) -> list[dict[str, Any]]:
    n = quarantine_notes.c
    query = (sa.select(quarantine_notes).where(n.tenant == tenant, n.kind.in_(list(kinds)),
                                                sa.or_(n.source_key == source_key,
                                                       n.source_key.startswith(f"{source_key}:", autoescape=True)))
             .order_by(n.at, n.id))
    with ledger.engine.connect() as conn:
        return [{**dict(r._mapping), "at": as_utc(r.at)} for r in conn.execute(query)]


def note_retry(ledger: Ledger, tenant: str, source_key: str, *, by: str, dag_run_id: str) -> None:
    """Audit that a person asked for a retry (the run itself audits what it then does)."""
    record = ledger.get(tenant, ORDER_KIND, source_key)
    if record is not None:
        ledger.transition(tenant, ORDER_KIND, source_key, record.state, step="retry_requested",
                          expect=[record.state], run_id=dag_run_id,
                          message=f"retry requested by {by} from the jetfort page")


def order_record(ledger: Ledger, tenant: str, source_key: str) -> Any:
    return ledger.get(tenant, ORDER_KIND, source_key)


def trail(ledger: Ledger, tenant: str, source_key: str) -> list[TrailStep]:
    """Every audited step of a shop order (``<shop>:<order id>``) across the flows, oldest first."""
    r, a = records.c, record_audit.c
    mine = sa.or_(sa.and_(r.kind.in_(TRAIL_EXACT), r.source_key == source_key),
                  sa.and_(r.kind.in_(TRAIL_PREFIXED), r.source_key.startswith(f"{source_key}:", autoescape=True)))
    query = (sa.select(r.kind, r.source_key, r.target_type, r.target_key, a.at, a.step, a.state, a.message,
                       audit_runs.c.run_id)
             .join(records, a.record_id == r.id).outerjoin(audit_runs, audit_runs.c.id == a.run)
             .where(r.tenant == tenant, mine).order_by(a.at, a.id))
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        target = f"{row.target_type} {row.target_key}" if row.target_type and row.target_key else None
        out.append(TrailStep(as_utc(row.at), row.kind, row.source_key, row.step, row.state,  # type: ignore[arg-type]
                             row.message or "", row.run_id, target))
    return out


def related_records(ledger: Ledger, tenant: str, source_key: str) -> list[dict[str, Any]]:
    """The shop order's records (order, facts, status pushes, capture, credits): kind, key, state, target."""
    r = records.c
    mine = sa.or_(sa.and_(r.kind.in_(TRAIL_EXACT), r.source_key == source_key),
                  sa.and_(r.kind.in_(TRAIL_PREFIXED), r.source_key.startswith(f"{source_key}:", autoescape=True)))
    query = sa.select(r.kind, r.source_key, r.state, r.target_type, r.target_key, r.updated_at).where(
        r.tenant == tenant, mine).order_by(r.id)
    with ledger.engine.connect() as conn:
        return [{**dict(row._mapping), "updated_at": as_utc(row.updated_at)} for row in conn.execute(query)]


def counts(ledger: Ledger, tenant: str, timezone: str, now: dt.datetime | None = None) -> Counts:
    """Orders first seen today (the tenant's day), open quarantine entries (not dismissed), held orders."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    r, q = records.c, quarantine.c
    with ledger.engine.connect() as conn:
        today = conn.execute(sa.select(sa.func.count()).select_from(records).where(
            r.tenant == tenant, r.kind == ORDER_KIND, r.created_at >= midnight)).scalar_one()
        held = conn.execute(sa.select(sa.func.count()).select_from(records).where(
            r.tenant == tenant, r.kind == ORDER_KIND, r.state == "held")).scalar_one()
        quarantined = conn.execute(sa.select(sa.func.count()).select_from(quarantine).where(
            q.tenant == tenant, q.resolved_at.is_(None), _not_dismissed())).scalar_one()
    return Counts(int(today), int(quarantined), int(held))


def budget_use(ledger: Ledger, company: str, window: float, now: float) -> tuple[int, float | None]:
    """Requests the company's budget stamped in the last ``window`` seconds, and the newest stamp."""
    c = request_log.c
    with ledger.engine.connect() as conn:
        used = conn.execute(sa.select(sa.func.count()).select_from(request_log).where(
            c.company == company, c.at > now - window, c.at <= now)).scalar_one()
        newest = conn.execute(sa.select(sa.func.max(c.at)).where(c.company == company)).scalar()
    return int(used), newest


def token_health(ledger: Ledger, company: str) -> list[TokenHealth]:
    """The company's stored Fortnox tokens (ledger key ``fortnox:<company>:<client id>``), no secret."""
    t = oauth_tokens.c
    prefix = f"fortnox:{company}:"
    query = sa.select(t.key, t.expires_at, t.updated_at, t.version).where(t.key.startswith(prefix, autoescape=True))
    with ledger.engine.connect() as conn:
        return [TokenHealth(row.key[len(prefix):], as_utc(row.expires_at), as_utc(row.updated_at), row.version)
                for row in conn.execute(query.order_by(t.key))]


def ledger_tenants(ledger: Ledger) -> set[str]:
    """Tenants that have anything in the ledger (records or quarantine)."""
    with ledger.engine.connect() as conn:
        found = set(conn.execute(sa.select(records.c.tenant).distinct()).scalars())
        found |= set(conn.execute(sa.select(quarantine.c.tenant).distinct()).scalars())
    return found
