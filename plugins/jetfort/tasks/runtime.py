"""What every jetfort task needs: the tenant's rules, ledger and hooks, its window, its summary.

Tasks build a :class:`TenantRuntime` inside ``execute`` (never at parse time); hooks are created
lazily and reused for the whole task, so one HTTP session and one token serve many calls.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from jetfort.ledger import Ledger
from jetfort.rules import RulesError, TenantRules, parse_tenant
from jetfort.shop import open_shop
from jetfort.tenants import tenant_variable

if TYPE_CHECKING:
    from jetfort.fortnox.hook import FortnoxHook
    from jetfort.shop.interface import ShopBackend

log = logging.getLogger(__name__)

#: How far back a first run without a data interval or cursor looks.
DEFAULT_LOOKBACK = dt.timedelta(days=1)


def load_rules(tenant_id: str) -> TenantRules:
    """The tenant's rules as they are now (Variable, env or file), validated."""
    value = tenant_variable(tenant_id)
    if value is None:
        raise RulesError(tenant_id, [("(variable)", f"no Variable jetfort_tenant_{tenant_id}")])
    return parse_tenant(tenant_id, value)


class TenantRuntime:
    """Rules + ledger + hooks of one tenant for the duration of one task."""

    def __init__(self, rules: TenantRules, *, ledger: Ledger | None = None) -> None:
        self.rules = rules
        self._ledger = ledger
        self._shops: dict[str, ShopBackend] = {}
        #: the share of the company's Fortnox budget this task's requests may take (None: all of it)
        self.fortnox_share: float | None = None

    @classmethod
    def for_tenant(cls, tenant_id: str) -> TenantRuntime:
        return cls(load_rules(tenant_id))

    @property
    def tenant(self) -> str:
        assert self.rules.tenant_id is not None
        return self.rules.tenant_id

    @cached_property
    def ledger(self) -> Ledger:
        return self._ledger or Ledger.from_conn_id()

    # The Fortnox hook module is imported on first use, not at the top: it pulls in heavy third-party
    # libraries (Airflow's HTTP provider with requests/tenacity) that every DAG file would otherwise
    # load at parse time (~0.28 s CPU per parse with zeep, measured). No import cycle is involved;
    # shop backends are imported on first use by open_shop for the same reason.
    @cached_property
    def fortnox(self) -> FortnoxHook:
        from jetfort.fortnox.hook import FortnoxHook

        return FortnoxHook(self.rules.fortnox_conn_id, ledger=self.ledger, budget_share=self.fortnox_share)

    def yield_fortnox_budget(self, share: float) -> None:
        """From now on let this task's Fortnox requests take at most ``share`` of the company's budget,
        leaving the rest to latency-sensitive runs (see :class:`jetfort.fortnox.budget.CappedRequestBudget`)."""
        self.fortnox_share = share
        if "fortnox" in self.__dict__:  # the hook is built: its next request takes the capped budget
            self.fortnox.limit_budget_share(share)

    def shop(self, shop_key: str) -> ShopBackend:
        """The backend of one of the tenant's shops (Jetshop or Norce), reused for the whole task."""
        if shop_key not in self._shops:
            shop = next((s for s in self.rules.shops if s.key == shop_key), None)
            if shop is None:
                raise KeyError(f"tenant {self.tenant!r} has no shop {shop_key!r}")
            self._shops[shop_key] = open_shop(shop, ledger=self.ledger)
        return self._shops[shop_key]

    def close(self) -> None:
        if "fortnox" in self.__dict__:
            self.fortnox.close()
        for shop in self._shops.values():
            shop.close()

    def __enter__(self) -> TenantRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Window:
    """The time range a run looks at; ``source`` says where it came from (shown in the logs)."""

    start: dt.datetime
    end: dt.datetime
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "source": self.source}


def run_window(context: Mapping[str, Any], *, ledger: Ledger, tenant: str, cursor: str,
               overlap_minutes: int, now: dt.datetime | None = None) -> Window:
    """The run's data interval widened by the overlap; manual runs without one use the cursor.

    Scheduled and backfill runs repeat exactly their own window (so a backfill re-examines the
    same records); a manual run without a logical date continues from the ledger's cursor.
    """
    overlap = dt.timedelta(minutes=overlap_minutes)
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return Window(_aware(start) - overlap, _aware(end), "data_interval")
    end = now or dt.datetime.now(dt.UTC)
    stored = ledger.get_cursor(tenant, cursor)
    if stored:
        return Window(dt.datetime.fromisoformat(stored) - overlap, end, "cursor")
    return Window(end - DEFAULT_LOOKBACK, end, "first_run")


def _aware(value: dt.datetime) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.isoformat())  # pendulum → stdlib datetime
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain-text table for task logs (the grid's log view shows it as written)."""
    if not rows:
        return "(nothing)"
    cols = list(columns or rows[0].keys())
    cells = [[str(row.get(c, "")) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, sep, *body])
