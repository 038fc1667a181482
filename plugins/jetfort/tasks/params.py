"""The params of a manual run (orders and order-status DAGs): their trigger-form text and their reading.

``since``/``until`` re-examine a date range in one run, the cheap alternative to a backfill of
one run per schedule interval; ``dry_run`` reads and builds everything and writes nothing anywhere;
``order_numbers`` (orders) / ``orders`` (status) re-sync given orders whatever the window.
Invalid values fail the run's first task at once with a message naming the param
(:class:`InvalidParams` is permanent: a retry with the same conf gives the same answer).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from jetfort.errors import PermanentError
from jetfort.tasks.runtime import Window

SINCE_DOC = ("Re-examine a date range in this one run instead of the run's schedule interval: its start, an ISO "
             "datetime with its offset, such as 2026-11-01T00:00:00+01:00 or 2026-11-01T00:00:00Z. "
             "Everything changed from `since` to `until` is read again and nothing already in Fortnox is "
             "created twice (the ledger and the idempotency key decide, as in a backfill). A range run "
             "leaves the cursor of scheduled runs where it is. The cheap alternative to "
             "`airflow backfill create` over many intervals.")
UNTIL_DOC = "End of the `since` range (ISO datetime with offset, later than `since`); empty = now. Only with `since`."
DRY_RUN_DOC = ("Read both sides and build and log the exact payloads, and report what a real run would do; "
               "write nothing anywhere: no ledger record, cursor or quarantine entry, nothing in the shop "
               "or in Fortnox. The next real run behaves exactly as if this one had not happened.")
ORDER_NUMBERS_DOC = ("Re-sync these shop order numbers now, whatever the window (also releases them from "
                     "quarantine). Not together with since/until.")
PREFLIGHT_DOC = "Only check both sides against the rules and report every gap."
STATUS_ORDERS_DOC = ('Shop orders to re-check whatever the window, as "<shop key>:<order id>" (e.g. "se:10041"). '
                     "Not together with since/until.")
STATUS_SINCE_DOC = ("Re-read the Fortnox documents changed since this moment in this one run, instead of the "
                    "run's window (ISO datetime with offset, e.g. 2026-11-01T00:00:00+01:00). Each state still "
                    "reaches the shop once and each payment is captured once; the cursor stays where it is.")
STATUS_UNTIL_DOC = ("End of the `since` range (ISO datetime with offset); empty = now. Fortnox lists documents by "
                    "\"changed since\" only, so documents changed after `until` are read as well (harmless: "
                    "nothing is pushed twice).")
STATUS_DRY_RUN_DOC = ("Derive the states and show what would be pushed and captured; send nothing to the shop "
                      "and write nothing in the ledger (no status record, cursor or quarantine entry).")


class InvalidParams(PermanentError):
    """A manual run's params cannot be used; the message names the param and what is wrong."""


@dataclass(frozen=True)
class OrderParams:
    order_numbers: tuple[str, ...] = ()
    dry_run: bool = False
    preflight_only: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _when(name: str, value: Any, tz: ZoneInfo) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParams(f"param {name}: {value!r} is not an ISO datetime "
                                "(e.g. 2026-11-01T00:00:00+01:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def date_range(params: Mapping[str, Any], *, timezone: str = "UTC",
               now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime] | None:
    """``(since, until)`` from the params, or None when the run uses its own window."""
    tz = ZoneInfo(timezone)
    since = _when("since", params.get("since"), tz)
    until = _when("until", params.get("until"), tz)
    if since is None:
        if until is not None:
            raise InvalidParams("param until needs since: give the start of the range too")
        return None
    end = until or (now or dt.datetime.now(dt.UTC))
    if end <= since:
        raise InvalidParams(f"param until ({end.isoformat()}) must be later than since ({since.isoformat()})")
    return since.astimezone(dt.UTC), end.astimezone(dt.UTC)


def range_window(params: Mapping[str, Any], *, timezone: str = "UTC") -> Window | None:
    """The run's window when ``since``/``until`` are given (exactly that range, no overlap)."""
    found = date_range(params, timezone=timezone)
    return Window(found[0], found[1], "params") if found else None


def order_params_of(context: Mapping[str, Any], *, timezone: str = "UTC") -> OrderParams:
    """The orders DAG's params, read and checked (raises :class:`InvalidParams`)."""
    params = context.get("params") or {}
    numbers = params.get("order_numbers") or []
    if isinstance(numbers, str):
        numbers = [n for n in re.split(r"[,\s]+", numbers) if n]
    found = date_range(params, timezone=timezone)
    if found and numbers:
        raise InvalidParams("give either order_numbers or since/until, not both")
    return OrderParams(order_numbers=tuple(str(n) for n in numbers), dry_run=bool(params.get("dry_run")),
                       preflight_only=bool(params.get("preflight_only")),
                       since=found[0] if found else None, until=found[1] if found else None)


def check_status_params(params: Mapping[str, Any], *, timezone: str = "UTC") -> None:
    """The order-status DAG's params, checked (raises :class:`InvalidParams`)."""
    if date_range(params, timezone=timezone) and params.get("orders"):
        raise InvalidParams("give either orders or since/until, not both")


#: The JSON Schema dialect of jetfort's params. Airflow checks a param's schema against its dialect's
#: metaschema at every validation (at each parse, serialization and run, per tenant); Draft 7's
#: metaschema is about three times cheaper to check than the default (2020-12) and has every keyword
#: used here.
PARAM_DIALECT = "http://json-schema.org/draft-07/schema#"


def param(default: Any, *, description: str, **schema: Any) -> Any:
    """An Airflow ``Param`` whose JSON schema (``type``, ``items``, ``format``, ``enum``, ``title``...)
    names :data:`PARAM_DIALECT`."""
    from airflow.sdk import Param

    return Param(default, description=description, schema={"$schema": PARAM_DIALECT, **schema})


def _range_params(since_doc: str, until_doc: str) -> dict[str, Any]:
    return {
        "since": param(None, type=["null", "string"], format="date-time", title="since", description=since_doc),
        "until": param(None, type=["null", "string"], format="date-time", title="until", description=until_doc),
    }


def order_params() -> dict[str, Any]:
    """Params of the orders DAG (shown with their descriptions in the trigger form)."""
    return {
        "order_numbers": param([], type="array", items={"type": ["string", "integer"]},
                               description=ORDER_NUMBERS_DOC),
        **_range_params(SINCE_DOC, UNTIL_DOC),
        "dry_run": param(False, type="boolean", description=DRY_RUN_DOC),
        "preflight_only": param(False, type="boolean", description=PREFLIGHT_DOC),
    }


def status_params() -> dict[str, Any]:
    """Params of the order-status DAG: re-check given shop orders, a date range, dry run."""
    return {
        "orders": param([], type="array", items={"type": "string"}, description=STATUS_ORDERS_DOC),
        **_range_params(STATUS_SINCE_DOC, STATUS_UNTIL_DOC),
        "dry_run": param(False, type="boolean", description=STATUS_DRY_RUN_DOC),
    }
