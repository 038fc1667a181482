"""NorceClient at the transport: headers on every call, bounded retries, typed errors, OData paging."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from jetfort.fortnox.auth import MemoryTokenStore
from jetfort.norce.auth import NorceTokenProvider
from jetfort.norce.client import NorceClient
from jetfort.norce.errors import (
    NorceAuthError,
    NorceConnectionError,
    NorceError,
    NorceNotFound,
    NorceRejected,
    NorceServerError,
)
from jetfort.shop.errors import ShopRejected, ShopTransientError
from tests.jetfort.norce.conftest import SECRET, Scripted, make_settings

CONNECT = "https://demoshop.api-se.stage.norce.tech/commerce/connect/4.0/"
QUERY = "https://demoshop.api-se.stage.norce.tech/commerce/query/2.0/"


def make_client(session: requests.Session, retries: int = 4) -> tuple[NorceClient, list[float]]:
    settings = make_settings()
    waits: list[float] = []
    tokens = NorceTokenProvider(settings, MemoryTokenStore(), session=session, sleep=waits.append)
    client = NorceClient(settings, tokens, retries=retries, retry_wait=0.5, session=session, sleep=waits.append)
    return client, waits


def reset() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")))


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/commerce/connect/4.0/x", reason=reason))  # type: ignore[arg-type]


def test_every_call_carries_bearer_application_id_and_json(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(200, b"")
    assert client.connect_post("Order/SendOrderStatus", {"ClientOrderRef": 1001, "Amount": Decimal("12.50")}) is None
    scripted.api(200, {"JobId": 42, "Fail": 0})
    assert client.connect_get("Job/Get", {"id": 42}) == {"JobId": 42, "Fail": 0}
    post, get = scripted.api_sent
    assert post.method == "POST" and post.url == CONNECT + "Order/SendOrderStatus"
    assert post.body == b'{"ClientOrderRef":1001,"Amount":12.50}'  # money stays an exact JSON number
    assert get.url == CONNECT + "Job/Get?id=42"
    for sent in (post, get):
        assert sent.headers["Authorization"] == "Bearer token-1"
        assert sent.headers["application-id"] == "1244"
        assert sent.headers["Accept"] == "application/json"
    assert post.headers["Content-Type"] == "application/json"
    assert len(scripted.token_sent) == 1  # the token is reused


def test_json_fractions_come_back_as_decimal_and_headers_as_one_line_json(
        scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(200, b'{"JobId":"17","Amount":0.1}')
    answer = client.connect_post("Product/ImportOnhands", [{"PartNo": "A-1", "OnhandValue": Decimal(3)}],
                                 headers={"X-StormConnect-Header": {"AccountId": 17, "FullFile": False}})
    assert answer == {"JobId": "17", "Amount": Decimal("0.1")}
    (sent,) = scripted.api_sent
    assert sent.headers["X-StormConnect-Header"] == '{"AccountId":17,"FullFile":false}'


def test_429_waits_for_retry_after_then_succeeds(scripted: Scripted, session: requests.Session) -> None:
    client, waits = make_client(session)
    scripted.api(429, "", {"Retry-After": "3"})
    scripted.api(200, {"ok": True})
    assert client.connect_post("Order/SendOrderStatus", {}) == {"ok": True}
    assert waits == [3.0]
    assert client.calls["Order/SendOrderStatus"] == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_a_get_are_retried_boundedly(status: int, scripted: Scripted,
                                                      session: requests.Session) -> None:
    client, waits = make_client(session, retries=2)
    for _ in range(5):
        scripted.api(status, "busy")
    with pytest.raises(NorceServerError) as err:
        client.connect_get("Job/Get", {"id": 1})
    assert err.value.status_code == status and isinstance(err.value, ShopTransientError)
    assert client.calls["Job/Get"] == 3 and len(waits) == 2  # 1 + 2 retries
    assert all(0.25 <= w <= 1.0 for w in waits)  # 0.5 s, 1 s with 50-100 % jitter


def test_400_is_rejected_with_the_servers_message_and_never_retried(scripted: Scripted,
                                                                      session: requests.Session) -> None:
    client, waits = make_client(session)
    scripted.api(400, {"error": {"code": "BadFilter", "message": "Could not find a property named 'Foo'"}})
    with pytest.raises(NorceRejected) as err:
        list(client.query_pages("Orders/Orders", {"$filter": "Foo eq 1"}))
    assert "Could not find a property named 'Foo'" in str(err.value) and isinstance(err.value, ShopRejected)
    assert err.value.status_code == 400 and not err.value.retryable
    scripted.api(400, "ClientOrderRef must be an int32")
    with pytest.raises(NorceRejected, match="ClientOrderRef must be an int32"):
        client.connect_post("Order/CancelOrder", {"ClientOrderRef": "x"})
    assert len(scripted.api_sent) == 2 and waits == []


def test_401_fetches_one_new_token_and_sends_again(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(401, "")
    scripted.api(200, {"ok": 1})
    assert client.connect_get("Job/Get", {"id": 1}) == {"ok": 1}
    first, second = scripted.api_sent
    assert first.headers["Authorization"] == "Bearer token-1"
    assert second.headers["Authorization"] == "Bearer token-2"
    scripted.api(401, "")
    scripted.api(401, "")
    with pytest.raises(NorceAuthError) as err:
        client.connect_get("Job/Get", {"id": 1})
    assert len(scripted.token_sent) == 3  # one new token per 401'd call, not a loop
    assert "token-" not in str(err.value) and SECRET not in str(err.value)


def test_404_is_not_found(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(404, "")
    with pytest.raises(NorceNotFound):
        client.query_get("Orders/Orders(123)")
    assert len(scripted.api_sent) == 1


def test_a_post_whose_answer_was_lost_is_not_resent_by_default(scripted: Scripted,
                                                                session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(raise_=reset())
    with pytest.raises(NorceConnectionError, match="may have been applied"):
        client.connect_post("Order/CreateInvoice", {"InvoiceNo": "1"})
    scripted.api(504, "gateway timeout")
    with pytest.raises(NorceConnectionError, match="may have been applied"):
        client.connect_post("Order/CreateInvoice", {"InvoiceNo": "1"})
    assert client.calls["Order/CreateInvoice"] == 2
    # the caller says the call is safe to repeat (a status set twice is the same status)
    scripted.api(raise_=reset())
    scripted.api(200, b"")
    assert client.connect_post("Order/SendOrderStatus", {}, retry_on_reset=True) is None
    assert client.calls["Order/SendOrderStatus"] == 2


def test_a_post_that_never_left_is_sent_again(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(raise_=refused())
    scripted.api(200, {"JobId": "9"})
    assert client.connect_post("Product/ImportOnhands", []) == {"JobId": "9"}
    assert client.calls["Product/ImportOnhands"] == 2


def test_gets_are_retried_after_a_reset_and_give_up_boundedly(scripted: Scripted,
                                                             session: requests.Session) -> None:
    client, _ = make_client(session, retries=1)
    scripted.api(raise_=reset())
    scripted.api(200, {"value": []})
    assert list(client.query_pages("Orders/Orders", {})) == [[]]
    scripted.api(raise_=reset())
    scripted.api(raise_=reset())
    scripted.api(200, {"value": []})
    with pytest.raises(NorceConnectionError):
        client.connect_get("Job/GetLog", {"id": 3})
    assert client.calls["Job/GetLog"] == 2


def _page(rows: list[int], link: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": "x/$metadata#Orders", "value": [{"Id": r} for r in rows]}
    if link:
        body["@odata.nextLink"] = link
    return body


def test_query_pages_follow_relative_and_absolute_next_links(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(200, _page([1, 2], "Orders/Orders?$filter=ApplicationId%20eq%201244&$skip=2"))
    scripted.api(200, _page([3, 4], QUERY + "Orders/Orders?$skip=4"))
    scripted.api(200, _page([5], "?$skip=5"))
    scripted.api(200, _page([], None))
    pages = list(client.query_pages("Orders/Orders", {"$filter": "ApplicationId eq 1244", "$top": 2,
                                                      "$expand": "Items,Buyer"}))
    assert [[row["Id"] for row in page] for page in pages] == [[1, 2], [3, 4], [5], []]
    urls = [r.url for r in scripted.api_sent]
    assert urls == [QUERY + "Orders/Orders?$filter=ApplicationId%20eq%201244&$top=2&$expand=Items,Buyer",
                    QUERY + "Orders/Orders?$filter=ApplicationId%20eq%201244&$skip=2",
                    QUERY + "Orders/Orders?$skip=4",
                    QUERY + "Orders/Orders?$skip=5"]
    assert client.calls["Orders/Orders"] == 4


def test_a_next_link_to_another_host_is_not_followed(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(200, _page([1], "https://evil.example/commerce/query/2.0/Orders/Orders?$skip=1"))
    pages = client.query_pages("Orders/Orders", {})
    assert next(pages) == [{"Id": 1}]
    with pytest.raises(NorceError, match="another host"):
        next(pages)
    assert len(scripted.api_sent) == 1  # the bearer token never went to evil.example


def test_an_answer_that_is_not_a_collection_is_an_error(scripted: Scripted, session: requests.Session) -> None:
    client, _ = make_client(session)
    scripted.api(200, json.dumps({"Id": 1}))
    with pytest.raises(NorceError, match="not an OData collection"):
        list(client.query_pages("Orders/Orders", {}))


# ------------------------------------------------------------------------------------ against the sandbox
def test_orders_pulled_from_the_sandbox_read_like_their_pushed_requests() -> None:
    """The sandbox computes its orders' payment amounts itself: jetfort's totals computed from the rows
    must come to what the PSP holds (to the cent), by pull and by push, under one ledger key."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from jetfort.norce.convert import order_from_query, order_from_request
    from sandbox.norce.app import create_app
    from sandbox.norce.push import order_request
    from sandbox.server import serve_in_thread

    app = create_app(seed=1)
    sandbox, tz = app.state.norce, ZoneInfo("Europe/Stockholm")
    try:
        with serve_in_thread(app) as base:
            settings = make_settings(base_url=base, client_secret="norce-demo-secret")
            with NorceClient(settings, NorceTokenProvider(settings, MemoryTokenStore())) as client:
                currencies = {r["Id"]: r["Code"] for page in client.query_pages("Core/Currencies") for r in page}
                countries = {r["Id"]: r["Code"] for page in client.query_pages("Core/Countries") for r in page}
                rows = [row for page in client.query_pages("Orders/Orders", {
                    "$filter": "ApplicationId eq 1244", "$expand": "Items,Buyer,Payer,ShipTo", "$top": 500})
                    for row in page]
    finally:
        sandbox.pusher.stop()
    assert len(rows) >= 10
    for row in rows:
        pulled = order_from_query(row, shop_id="demoshop", tz=tz, currencies=currencies, countries=countries)
        payload = order_request(sandbox.order_by_ref(row["QuotationId"]), "Europe/Stockholm")
        pushed = order_from_request(payload, shop_id="demoshop", tz=tz, application_id=1244,
                                    received_at=dt.datetime.now(dt.UTC))
        assert pulled.key == pushed.key == f"demoshop:{row['QuotationId']}"
        paid = sum((Decimal(str(p["Amount"])) for p in payload["Payments"]), Decimal(0))
        gift_paid = -sum((r.total_inc_vat for r in pushed.rows if r.row_id < 0), Decimal(0))
        assert abs(pushed.total_inc_vat + gift_paid - paid) < Decimal("0.01"), pushed.order_number
        assert abs(pulled.total_ex_vat - pushed.total_ex_vat) <= Decimal("0.0001") * len(row["Items"])
        assert pulled.freight_inc_vat.quantize(Decimal("0.01")) == pushed.freight_inc_vat.quantize(Decimal("0.01"))
