"""What an event-driven DAG run reads from its context (pure): the batches of Fortnox events that
triggered it, from ``context["triggering_asset_events"]``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PAYLOAD_KEYS = frozenset({"tenant", "purpose", "batch", "events"})


def _extra(event: Any) -> Mapping[str, Any]:
    extra = event.get("extra") if isinstance(event, Mapping) else getattr(event, "extra", None)
    return extra if isinstance(extra, Mapping) else {}


def is_batch(payload: Any) -> bool:
    return (isinstance(payload, Mapping) and set(payload) >= PAYLOAD_KEYS
            and isinstance(payload.get("batch"), str) and isinstance(payload.get("events"), list))


def batches_of(context: Mapping[str, Any], *, tenant: str | None = None,
               purpose: str | None = None) -> list[dict[str, Any]]:
    """The event batches (trigger payloads) behind this run, each once, in the order Airflow lists them.

    Asset events not fired by a trigger (a task's outlet, a manual asset event) and payloads that are
    not jetfort event batches are ignored; ``tenant``/``purpose`` narrow further when given."""
    triggering = context.get("triggering_asset_events") or {}
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for events in triggering.values():
        for event in events:
            extra = _extra(event)
            payload: Any = extra.get("payload")
            if not extra.get("from_trigger") or not is_batch(payload):
                continue
            if (tenant is not None and payload["tenant"] != tenant) or \
                    (purpose is not None and payload["purpose"] != purpose):
                continue
            if payload["batch"] in seen:
                continue
            seen.add(payload["batch"])
            out.append(dict(payload))
    return out


def batch_ids(batches: Iterable[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(b["batch"]) for b in batches))


def entity_ids(batches: Iterable[Mapping[str, Any]], topic: str) -> list[str]:
    """Entity ids (document / article numbers) of ``topic``'s events, deduplicated, first seen first."""
    ids: dict[str, None] = {}
    for batch in batches:
        for event in batch["events"]:
            if event.get("topic") == topic and event.get("entityId") is not None:
                ids[str(event["entityId"])] = None
    return list(ids)
