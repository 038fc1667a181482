"""Retries and typed errors: what is retried, what is not, and what never reaches a log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import pytest

from jetfort.jetshop.errors import (
    JetshopAuthError,
    JetshopCaptureRefused,
    JetshopConfigError,
    JetshopConnectionError,
    JetshopItemError,
    JetshopReceiverFault,
    JetshopSenderFault,
    JetshopServerError,
)
from jetfort.jetshop.hook import JetshopHook
from jetfort.shop.models import PriceListPrice, ProductUpsert, StatusUpdate
from sandbox.jetshop.state import JetshopSandbox
from tests.jetfort.jetshop.counting import counting_proxy

PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"


def test_sender_fault_is_not_retried_and_names_operation_and_message(
        hook: JetshopHook, sb: JetshopSandbox) -> None:
    with pytest.raises(JetshopSenderFault) as info:
        hook.search_orders_page(page_size=5000)
    assert sb.call_count("Order_Search") == 1
    err = info.value
    assert err.operation == "Order_Search" and err.code == "soap:Sender"
    assert "PageSize" in err.message and str(err).startswith("Order_Search: ")


def test_5xx_without_fault_is_retried_until_it_succeeds(hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.faults.update(forced={"server_error": 2})
    assert len(hook.get_statuses()) == 8
    assert sb.faults.counts["server_error"] == 2 and sb.call_count("OrderStatus_GetList") == 1


def test_connection_reset_and_dropped_answer_are_retried(hook: JetshopHook, sb: JetshopSandbox) -> None:
    sb.faults.update(forced={"reset": 1, "drop_after_commit": 1})
    results = hook.upsert_products([ProductUpsert(article_number="R-1", name="retry")])
    # reset: not applied; dropped: applied but unanswered; third try: answered, now an update
    assert [r.status for r in results] == ["SuccessUpdate"]
    assert sb.call_count("Product_AddUpdate") == 2 and sb.product("demoshop", "R-1") is not None


def test_retries_are_bounded_and_end_in_a_typed_transient_error(
        make_hook: Callable[..., JetshopHook], sb: JetshopSandbox) -> None:
    hook = make_hook(retries=2)
    sb.faults.update(forced={"server_error": 10})
    with pytest.raises(JetshopServerError) as info:
        hook.get_channels()
    assert info.value.status_code == 503 and sb.faults.counts["server_error"] == 3
    sb.clear_faults()
    sb.faults.update(forced={"reset": 10})
    with pytest.raises(JetshopConnectionError):
        hook.get_channels()
    assert sb.faults.counts["reset"] == 3


def test_timeouts_are_retried(make_hook: Callable[..., JetshopHook], base_url: str, sb: JetshopSandbox) -> None:
    with counting_proxy(base_url, delay=0.6) as (proxy, slow_url):  # answers after the client gave up
        hook = make_hook(endpoint=slow_url, timeout=0.2, retries=2)
        with pytest.raises(JetshopConnectionError, match="timed out"):
            hook.get_channels()
        assert proxy.count("POST") == 3  # the first try and exactly two retries reached the server
        hook = make_hook(endpoint=slow_url, timeout=0.2, retries=0)
        with pytest.raises(JetshopConnectionError, match="timed out"):
            hook.get_channels()
        assert proxy.count("POST") == 3 + 1


def test_wrong_login_is_an_auth_error_and_not_retried(make_hook: Callable[..., JetshopHook], base_url: str,
                                                      sb: JetshopSandbox) -> None:
    with counting_proxy(base_url) as (proxy, url):
        hook = make_hook(endpoint=url, password="not-the-password")
        with pytest.raises(JetshopAuthError):
            hook.get_statuses()
        assert proxy.count("POST") == 1  # one request, refused, never repeated (retries=3)
        other_shop = make_hook("nordicshop", endpoint=url, login="jetfort-demo", password="demo-secret")
        with pytest.raises(JetshopAuthError):
            other_shop.get_statuses()
        assert proxy.count("POST") == 2
        assert make_hook(endpoint=url).get_statuses()  # the right login through the same proxy: answered
        assert proxy.count("POST") == 3 and sb.call_count("OrderStatus_GetList") == 1


def test_per_item_failures_raise_typed_errors_or_are_returned(hook: JetshopHook, sb: JetshopSandbox) -> None:
    prices = [PriceListPrice(article_number="1001", price_list_id=PL_SE, price_inc_vat=Decimal(1)),
              PriceListPrice(article_number="NOPE", price_list_id=PL_SE, price_inc_vat=Decimal(1))]
    with pytest.raises(JetshopItemError) as info:
        hook.update_prices(prices)
    assert info.value.operation == "PriceList_UpdateArticleIncVAT"
    assert [f.article_number for f in info.value.failures] == ["NOPE"] and len(info.value.results) == 2
    assert "NOPE" in str(info.value)
    returned = hook.update_prices(prices, strict=False)
    assert [r.success for r in returned] == [True, False]
    bad_vat = hook.upsert_products([ProductUpsert(article_number="V-1", vat_rate=Decimal(25))], strict=False)
    assert not bad_vat[0].success and sb.product("demoshop", "V-1") is None
    statuses = hook.set_order_statuses([StatusUpdate(order_id=10000, status_id=2),
                                        StatusUpdate(order_id=999999, status_id=2)], strict=False)
    assert [s.success for s in statuses] == [True, False] and "999999" in statuses[1].message


def test_refused_capture_is_a_typed_error(hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.awkward_orders()["cancelled_order"]
    with pytest.raises(JetshopCaptureRefused, match="cancelled"):
        hook.capture_payment(oid)
    result = hook.capture_payment(oid, strict=False)
    assert not result.success and sb.captures("demoshop", oid) == []


def test_password_never_shows_in_repr_errors_or_logs(make_hook: Callable[..., JetshopHook], sb: JetshopSandbox,
                                                     caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    hook = make_hook(retries=2)
    sb.faults.update(forced={"server_error": 1, "reset": 1})
    with caplog.at_level(logging.DEBUG):
        hook.get_statuses()
        with pytest.raises(JetshopSenderFault) as info:
            hook.search_orders_page(page_size=0 - 1)
    logged = caplog.text + capsys.readouterr().out
    assert "retry 2 of 2" in logged  # the retries were logged (Airflow's logger writes to stdout) ...
    for text in (logged, repr(hook), repr(hook.settings), str(info.value)):
        assert "demo-secret" not in text  # ... without the password


def test_receiver_fault_is_retried_then_typed(hook: JetshopHook, sb: JetshopSandbox,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.jetshop import state

    real = state.HANDLERS["Channel_GetList"]
    failures = {"left": 1}

    def flaky(*args: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database timeout")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setitem(state.HANDLERS, "Channel_GetList", flaky)
    assert len(hook.get_channels()) == 4  # one soap:Receiver fault, then success
    failures["left"] = 99
    with pytest.raises(JetshopReceiverFault) as info:
        hook.get_channels()
    assert info.value.code == "soap:Receiver" and "database timeout" in info.value.message
    assert sb.call_count("Channel_GetList") == 2 + 4  # 2 for the first call, 1 + 3 retries for the second


def test_a_wrong_wsdl_url_is_a_config_error_not_a_retry(make_hook: Callable[..., JetshopHook], base_url: str) -> None:
    hook = make_hook(wsdl_url=base_url + "/no/such/service.asmx?WSDL")
    with pytest.raises(JetshopConfigError, match="404") as info:
        hook.get_statuses()
    assert not info.value.retryable
    assert JetshopServerError("x", status_code=503).retryable and JetshopConnectionError("x").retryable
    assert not JetshopSenderFault("x", code="soap:Sender").retryable
