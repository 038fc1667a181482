"""Airflow Assets of a tenant, and the schedules built on them when Fortnox events are on.

Two kinds, both only for tenants whose rules switch ``events`` on:

``jetfort__<tenant>__fortnox_<purpose>_events`` (``jetfort://<tenant>/fortnox/events/<purpose>``)
    Watched by an :class:`~airflow.sdk.AssetWatcher` whose trigger
    (:class:`jetfort.events.trigger.FortnoxEventTrigger`, in the triggerer) turns the tenant's Fortnox
    change events of that purpose into asset events: ``status`` (topics orders, invoices) drives
    ``jetfort__<tenant>__order_status``, ``catalog`` (articles, warehouse-stockbalances) drives
    ``jetfort__<tenant>__catalog``.
``jetfort__<tenant>__orders_posted`` (``jetfort://<tenant>/orders/posted``)
    The outlet of the orders DAG's ``post`` task (its extra names the shop orders it linked to a
    Fortnox document); the status DAG is scheduled on it too, so it checks new links at once. A
    scheduled orders run, done whole in ``preflight``, emits the same events through the asset alias
    ``jetfort__<tenant>__orders_posted_by_run``.

Such a DAG keeps its cron as the safety net: its schedule is ``AssetOrTimeSchedule`` over the
rules' data-interval timetable, so scheduled runs and backfills keep their windows, and asset
runs (no data interval) do the event work. A tenant without events keeps its plain timetable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias, AssetOrTimeSchedule, AssetWatcher

from jetfort.events.trigger import FortnoxEventTrigger

if TYPE_CHECKING:
    from airflow.sdk.bases.timetable import BaseTimetable
    from airflow.sdk.definitions.asset import BaseAsset

    from jetfort.rules import TenantRules

ASSET_GROUP = "jetfort"


def events_asset_name(tenant: str, purpose: str) -> str:
    return f"jetfort__{tenant}__fortnox_{purpose}_events"


def orders_posted_name(tenant: str) -> str:
    return f"jetfort__{tenant}__orders_posted"


def fortnox_events(rules: TenantRules, purpose: str) -> Asset:
    """The tenant's Fortnox events of one purpose, watched by the Fortnox event trigger."""
    tenant = _tenant(rules)
    trigger = FortnoxEventTrigger(tenant=tenant, purpose=purpose, fortnox_conn_id=rules.fortnox_conn_id,
                                  events_url=None, ledger_conn_id=None)
    return Asset(name=events_asset_name(tenant, purpose), uri=f"jetfort://{tenant}/fortnox/events/{purpose}",
                 group=ASSET_GROUP,
                 watchers=[AssetWatcher(name=f"jetfort__{tenant}__{purpose}_events", trigger=trigger)])


def orders_posted(tenant: str) -> Asset:
    """Shop orders the orders DAG just linked to Fortnox documents (extra: ``shop``, ``linked``)."""
    return Asset(name=orders_posted_name(tenant), uri=f"jetfort://{tenant}/orders/posted", group=ASSET_GROUP)


def links_orders_to_status(rules: TenantRules) -> bool:
    """Whether the orders DAG's posts schedule the status DAG (when the status DAG runs on events)."""
    return rules.events_purpose("order_status") is not None


def posted_outlets(rules: TenantRules) -> list[Asset]:
    """The outlets of the orders DAG's ``post`` task."""
    return [orders_posted(_tenant(rules))] if links_orders_to_status(rules) else []


def orders_posted_alias(tenant: str) -> AssetAlias:
    """The outlet through which a scheduled orders run, done whole in ``preflight``, emits
    :func:`orders_posted` events: one per shop that linked shop orders, none when none did."""
    return AssetAlias(name=f"{orders_posted_name(tenant)}_by_run", group=ASSET_GROUP)


def whole_run_outlets(rules: TenantRules) -> list[AssetAlias]:
    """The outlets of the orders DAG's ``preflight`` task (see :mod:`jetfort.tasks.orders_run`)."""
    return [orders_posted_alias(_tenant(rules))] if links_orders_to_status(rules) else []


def schedule_for(rules: TenantRules, part: str, timetable: BaseTimetable | None) -> Any:
    """The DAG's schedule: ``timetable`` alone without events; with events the event asset (for the
    status DAG also the orders DAG's outlet) or the timetable, whichever comes first. A part whose
    cron is switched off (null) runs on its events only."""
    purpose = rules.events_purpose(part)
    if purpose is None:
        return timetable
    condition: BaseAsset = fortnox_events(rules, purpose)
    if purpose == "status":
        condition = condition | orders_posted(_tenant(rules))
    if timetable is None:
        return condition
    return AssetOrTimeSchedule(timetable=timetable, assets=condition)


def _tenant(rules: TenantRules) -> str:
    if rules.tenant_id is None:
        raise ValueError("tenant rules were not parsed with a tenant id (use jetfort.rules.parse_tenant)")
    return rules.tenant_id
