"""FortnoxHook.expected_deliveries against the sandbox's warehouse purchase orders: per article the earliest
delivery date of an open order with something left to receive, at the stock points asked for."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jetfort.fortnox.errors import FortnoxServerError
from jetfort.fortnox.purchases import UnreadablePurchaseOrder, WarehouseUnavailable
from sandbox.fortnox.emulator import Credentials
from sandbox.fortnox.oauth import ALL_SCOPES
from sandbox.fortnox.resources.purchaseorders import add_purchase_order
from tests.jetfort.fortnox.conftest import HookFactory, Server


def _order(server: Server, company: Credentials, day: dt.date, rows: list[dict[str, Any]], **extra: Any) -> None:
    add_purchase_order(server.sandbox.company(company.tenant_id),
                       {"deliveryDate": day.isoformat(), "rows": rows, **extra})


def test_earliest_open_delivery_per_article_at_the_stock_points(make_hook: HookFactory, server: Server,
                                                               company: Credentials) -> None:
    today = server.sandbox.clock.today()
    day = dt.timedelta(days=1)
    _order(server, company, today + 10 * day, [{"itemId": "1001", "orderedQuantity": 5, "receivedQuantity": 2},
                                              {"itemId": "1002", "orderedQuantity": 4, "receivedQuantity": 4}])
    _order(server, company, today + 5 * day, [{"itemId": "1001", "orderedQuantity": 2, "stockPointCode": "LAGER2"}])
    _order(server, company, today - day, [{"itemId": "1003", "orderedQuantity": 5}])  # late: date passed
    _order(server, company, today + day, [{"itemId": "1003", "orderedQuantity": 5}], voided=True)
    _order(server, company, today + 2 * day, [{"itemId": "1004", "orderedQuantity": 5}], purchaseType="DROPSHIP")
    _order(server, company, today, [{"itemId": "1004", "orderedQuantity": 1}], purchaseOrderState="NOT_SENT")
    _order(server, company, today + 30 * day, [{"itemId": "1004", "orderedQuantity": 9}])
    hook = make_hook()
    everywhere = hook.expected_deliveries(today=today)
    assert everywhere == {"1001": today + 5 * day, "1004": today}
    assert hook.expected_deliveries(["LAGER1"], today=today) == {"1001": today + 10 * day, "1004": today}
    assert hook.expected_deliveries(["LAGER3"], today=today) == {}
    assert hook.expected_deliveries(today=today + day) == {"1001": today + 5 * day, "1004": today + 30 * day}


def test_a_company_without_the_warehouse_scope_is_a_typed_permanent_error(make_hook: HookFactory, server: Server,
                                                                          company: Credentials) -> None:
    other = server.sandbox.add_client(company.tenant_id, scopes=tuple(s for s in ALL_SCOPES if s != "warehouse"))
    hook = make_hook(client_id=other.client_id, client_secret=other.client_secret,
                     refresh_token=other.refresh_token)
    with pytest.raises(WarehouseUnavailable) as err:
        hook.expected_deliveries()
    assert err.value.code == 2000663 and err.value.retryable is False
    assert hook.company_information().database_number == company.tenant_id  # the rest of Fortnox still answers


def test_server_errors_are_retried_then_raised_not_taken_for_no_dates(make_hook: HookFactory, server: Server,
                                                                      company: Credentials) -> None:
    today = server.sandbox.clock.today()
    _order(server, company, today, [{"itemId": "1001", "orderedQuantity": 1}])
    hook = make_hook(max_attempts=2)
    hook.company_information()  # token first
    server.sandbox.set_faults(forced={"server_error": 1})
    assert hook.expected_deliveries(today=today) == {"1001": today}  # one 500, retried
    server.sandbox.set_faults(forced={"server_error": 5})
    with pytest.raises(FortnoxServerError) as err:
        hook.expected_deliveries(today=today)
    assert err.value.retryable is True


def test_an_unreadable_delivery_date_names_the_order_and_the_field(make_hook: HookFactory, server: Server,
                                                                    company: Credentials) -> None:
    _order(server, company, server.sandbox.clock.today(), [{"itemId": "1001", "orderedQuantity": 1}])
    stored = server.sandbox.company(company.tenant_id).data["purchaseorders"]["1"]
    stored["deliveryDate"] = "31/12/2030"  # what a broken answer could hold
    with pytest.raises(UnreadablePurchaseOrder) as err:
        make_hook().expected_deliveries()
    assert "purchase order 1" in str(err.value) and "deliveryDate" in str(err.value)
    assert err.value.retryable is False


def test_an_order_listed_without_rows_is_read_on_its_own(make_hook: HookFactory, server: Server,
                                                         company: Credentials, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.fortnox.resources import purchaseorders

    today = server.sandbox.clock.today()
    _order(server, company, today, [{"itemId": "1002", "orderedQuantity": 3}])
    listing = purchaseorders.list_orders
    monkeypatch.setattr(purchaseorders, "list_orders",
                        lambda c, p: [{k: v for k, v in o.items() if k != "rows"} for o in listing(c, p)])
    assert make_hook().expected_deliveries(today=today) == {"1002": today}
    paths = [e["path"] for e in server.log_for(company.tenant_id) if "purchaseorders" in e["path"]]
    assert paths == ["/api/warehouse/purchaseorders-v1", "/api/warehouse/purchaseorders-v1/1"]
