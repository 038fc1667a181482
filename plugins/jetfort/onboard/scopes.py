"""Which Fortnox scopes a tenant's flows need, from its rules (pure).

Fortnox grants read and write per scope and has no read-only scopes; changing them needs a new
consent (reference fortnox-api.md §1.5), so the consent asks for every scope the tenant's flows and
their pre-flight read, and no other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jetfort.rules import TenantRules

#: every tenant: the pre-flight's reads (company, customers, articles, invoices, chart of accounts,
#: currencies, terms of payment and ways of delivery, price lists) and the status flow's payments
ALWAYS = ("companyinformation", "customer", "article", "invoice", "payment", "bookkeeping", "currency",
          "settings", "price")


def scopes_for(flow: str, document: str, *, projects: bool = False, warehouse: bool | None = None) -> tuple[str, ...]:
    """The scopes to ask for, in a stable order. ``warehouse`` None: as a new tenant's defaults have it (stock
    from Fortnox with expected delivery dates in flows erp and combo)."""
    wanted = list(ALWAYS)
    if document == "order":
        wanted.append("order")  # orders and their createinvoice/cancel
    if projects:
        wanted.append("project")
    if warehouse if warehouse is not None else flow in ("erp", "combo"):
        wanted.append("warehouse")  # stock points, and purchase orders' expected delivery dates
    return tuple(wanted)


def fortnox_scopes(rules: TenantRules) -> tuple[str, ...]:
    """The scopes the tenant's rules need."""
    stock = rules.stock
    return scopes_for(rules.flow, rules.orders.document,
                      projects=any(channel.project for _shop, channel in rules.channels()),
                      warehouse=(rules.flow in ("erp", "combo") and stock.enabled
                                 and (stock.source == "warehouse" or stock.use_expected_date)))
