"""End-to-end fixtures for the orders flow: fast sandbox rate window, short task retries, helpers
that read outcomes from the sandboxes' own state (never from jetfort's view of it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

#: the Fortnox sandbox allows 25 requests per this many seconds in these tests (real: 5 s)
FAST_WINDOW = 0.5


class Orders:
    """What the sandboxes say about the orders flow of one test."""

    def __init__(self, env: Any) -> None:
        self.env = env

    @property
    def company(self) -> Any:
        return self.env.fortnox.company(self.env.env.fortnox_tenant_id)

    def documents(self, kind: str = "invoices") -> list[dict[str, Any]]:
        with self.company.lock:
            return [dict(d) for d in self.company.snapshot(kind)]

    def by_key(self, kind: str = "invoices", field: str = "ExternalInvoiceReference1") -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for doc in self.documents(kind):
            if doc.get(field):
                out.setdefault(doc[field], []).append(doc)
        return out

    def shop_orders(self, shop_id: str = "demoshop") -> list[dict[str, Any]]:
        return list(self.env.jetshop.orders(shop_id))

    def touch(self, shop_id: str, when: dt.datetime | None = None, order_ids: list[int] | None = None) -> None:
        """Set the shop orders' ModifiedDate (shop-local time) so a run's window sees them."""
        local = (when or dt.datetime.now(dt.UTC)).astimezone(self.env.jetshop.shops[shop_id].timezone)
        self.env.jetshop.touch_orders(shop_id, order_ids, local.replace(tzinfo=None))

    def set_status(self, shop_id: str, status_id: int, order_ids: list[int] | None = None) -> None:
        with self.env.jetshop.lock:
            for oid, order in self.env.jetshop.shops[shop_id].orders.items():
                if order_ids is None or oid in order_ids:
                    order["OrderStatusId"] = status_id


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short task retries and no backoff (the fast sandbox window makes waits pointless)."""
    import jetfort.factory

    original = jetfort.factory.default_args

    def quick(rules: Any) -> dict[str, Any]:
        args = original(rules)
        args.update(retry_delay=dt.timedelta(seconds=0.2), retry_exponential_backoff=0,
                    max_retry_delay=dt.timedelta(seconds=1))
        return args

    monkeypatch.setattr(jetfort.factory, "default_args", quick)


@pytest.fixture
def orders_env(sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sync_env.fortnox.limiter.configure(25, FAST_WINDOW)
    sync_env.set_rate_window(monkeypatch, FAST_WINDOW)
    sync_env.orders = Orders(sync_env)
    yield sync_env


def add_channel_projects(env: Any) -> None:
    """The Fortnox projects demo_combo's channels name (WEBSE, WEBFI), where the company lacks them."""
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    for number in ("WEBSE", "WEBFI"):
        if company.get("projects", number) is None:
            company.put("projects", number, {"Comments": "", "ContactPerson": None, "Description": number,
                                             "EndDate": None, "ProjectLeader": None, "ProjectNumber": number,
                                             "Status": "ONGOING", "StartDate": None})


def run_orders(tenant: str, *, logical_date: dt.datetime | None = None, manual: bool = True,
               conf: dict[str, Any] | None = None) -> Any:
    """Run ``jetfort__<tenant>__orders`` through dag.test(); ``manual`` = no logical date (cursor window)."""
    from tests.harness import load_dag

    dag = load_dag(f"jetfort__{tenant}__orders")
    if manual and logical_date is None:
        return dag.test(logical_date=None, run_conf=conf)
    return dag.test(logical_date=logical_date, run_conf=conf)


def summary_of(dag_run: Any, task_id: str = "summary") -> list[dict[str, Any]]:
    """XCom ``summary`` of the run's summary task (a scheduled orders run's: ``preflight``)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="summary")
    with create_session() as session:
        row = session.scalars(query).first()
        return list(XComModel.deserialize_value(row)) if row is not None else []


def within(a: Any, b: Any, tolerance: str = "1.00") -> bool:
    return abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal(tolerance)


def ledger_state(env: Any, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the ledger holds for a tenant's sync state: records, their audit, cursors, quarantine.

    (Not the OAuth tokens or the request budget: reading Fortnox rotates and spends those.)"""
    import sqlalchemy as sa

    from jetfort.ledger.schema import cursors, quarantine, record_audit, records

    with env.ledger().engine.connect() as conn:
        return {
            "records": [tuple(r) for r in conn.execute(
                sa.select(records).where(records.c.tenant == tenant).order_by(records.c.id))],
            "audit": [tuple(r) for r in conn.execute(
                sa.select(record_audit).join(records, records.c.id == record_audit.c.record_id)
                .where(records.c.tenant == tenant).order_by(record_audit.c.id))],
            "cursors": [tuple(r) for r in conn.execute(
                sa.select(cursors).where(cursors.c.tenant == tenant).order_by(cursors.c.name))],
            "quarantine": [tuple(r) for r in conn.execute(
                sa.select(quarantine).where(quarantine.c.tenant == tenant).order_by(quarantine.c.id))],
        }


def fortnox_view(env: Any) -> dict[str, Any]:
    """What the Fortnox sandbox holds that a sync creates: documents (with their rows) and customers."""
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        out: dict[str, Any] = {}
        for kind, rows in (("invoices", "InvoiceRows"), ("orders", "OrderRows")):
            out[kind] = sorted(
                (d["DocumentNumber"], d.get("ExternalInvoiceReference1"), d.get("CustomerNumber"), str(d.get("Total")),
                 d.get("Currency"), tuple((r.get("ArticleNumber"), str(r.get("DeliveredQuantity")), str(r.get("Price")))
                                          for r in d.get(rows) or ()))
                for d in company.snapshot(kind))
        out["customers"] = sorted((c["CustomerNumber"], c.get("Name"), c.get("OrganisationNumber"), c.get("Email"))
                                  for c in company.snapshot("customers"))
    return out


def shop_view(env: Any, shop_id: str = "demoshop") -> dict[int, tuple[Any, ...]]:
    """Each shop order's status, status history and captures, as the Jetshop sandbox holds them."""
    return {o["OrderId"]: (o["OrderStatusId"], len(env.jetshop.status_changes(shop_id, o["OrderId"])),
                           len(env.jetshop.captures(shop_id, o["OrderId"])))
            for o in env.jetshop.orders(shop_id)}
