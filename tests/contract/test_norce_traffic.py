"""Every request jetfort sends to Norce and every answer the Norce sandbox gives, checked against the field
names and types of Norce's contracts (``tests/contract/norce_reference.py``, transcribed from the reference,
independent of jetfort's client and of the sandbox).

The traffic comes from the real DAGs of the Norce demo tenant: orders (pull and push), status back with a
delivery note and a capture, and the catalog (products, prices, stock as import jobs).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from jetfort.norce.receiver import create_receiver_app
from jetfort.tasks.runtime import TenantRuntime
from sandbox.demo_status import move
from tests.contract.norce_reference import ContractError, check, validate
from tests.e2e.conftest import FAST_WINDOW, run_orders
from tests.harness import run_dag, task_states

TENANT = "demo_norce"

#: Connect operation → (request body, X-StormConnect-Header object, answer) as the reference names them
CONNECT: dict[str, tuple[str, str | None, str | None]] = {
    "Order/SendOrderStatus": ("SendOrderStatusRequest", None, None),
    "Order/CreateDeliveryNote": ("DeliveryNote", None, None),
    "Order/CancelOrder": ("CancelOrderRequest", None, None),
    "Order/CreateInvoice": ("Invoice", None, None),
    "Order/CreditPayment": ("Invoice", None, None),
    "Product/ImportProducts": ("[Product]", "ProductHeader", "JobResponse"),
    "Product/ImportSkuPriceLists": ("[SkuPriceList]", "SkuPriceListHeader", "JobResponse"),
    "Product/ImportPriceLists": ("[PriceList]", "PriceListHeader", "JobResponse"),
    "Product/ImportOnhands": ("[SkuOnhand]", "SkuOnhandHeader", "JobResponse"),
    "Job/Get": ("", None, "JobDto"),
    "Job/GetLog": ("", None, "[JobLogDto]"),
}
#: Query entity set → the row object the reference documents (others: lookups and sets it leaves open)
QUERY = {"Orders/Orders": "QueryOrder"}


@dataclass
class Exchange:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | str | None
    status: int
    answer: bytes


@pytest.fixture
def flows_env(sync_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The sandboxes with Fortnox's rate window shortened, as the end-to-end tests run them."""
    sync_env.fortnox.limiter.configure(25, FAST_WINDOW)
    sync_env.set_rate_window(monkeypatch, FAST_WINDOW)
    return sync_env


@pytest.fixture
def traffic(monkeypatch: pytest.MonkeyPatch, sync_env: Any) -> Iterator[list[Exchange]]:
    """Every HTTP exchange with the Norce sandbox, as jetfort's client sent and received it."""
    seen: list[Exchange] = []
    original = requests.Session.send

    def recording(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = original(self, request, **kwargs)
        if sync_env.norce_url and str(request.url).startswith(sync_env.norce_url):
            seen.append(Exchange(str(request.method), str(request.url), dict(request.headers), request.body,
                                 response.status_code, response.content))
        return response

    monkeypatch.setattr(requests.Session, "send", recording)
    yield seen


def run_the_flows(env: Any) -> None:
    """Orders (seeded week + one pushed order), one delivery with capture and one cancellation, the catalog."""
    from sandbox.server import serve_in_thread

    login = env.env.connections["norce_receiver_demo"]
    with serve_in_thread(create_receiver_app(ledger_factory=env.ledger)) as url:
        env.norce.set_knobs(push_auto=False)
        env.norce.set_push_target(f"{url}/norce_demo/orders", login["login"], login["password"])
        env.norce.add_order({"client_order_ref": "300001", "rows": [{"part_no": "1001", "qty": 2}]}, push=True)
        assert env.norce.push_pending() == 1
    run = run_orders(TENANT, conf={"since": (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat()})
    assert str(run.state) == "success", task_states(run)
    with TenantRuntime.for_tenant(TENANT) as rt:
        links = sorted(rt.ledger.records(TENANT, "order", states=["acknowledged"]), key=lambda r: r.source_key)
        move(rt, links[0], "delivered", tracking="PN777SE")
        move(rt, links[1], "cancelled")
        shop = rt.shop("norce")
        shop.cancel_order(int(links[2].source_key.split(":")[1]), erp_reference=str(links[2].target_key))  # type: ignore[attr-defined]
    for flow in ("order_status", "catalog"):
        dag_run = run_dag(f"jetfort__{TENANT}__{flow}")
        assert str(dag_run.state) == "success", task_states(dag_run)


def test_everything_jetfort_sends_and_norce_answers_keeps_to_the_reference(flows_env: Any,
                                                                           traffic: list[Exchange]) -> None:
    run_the_flows(flows_env)
    checked: dict[str, int] = {}
    problems: list[str] = []
    for exchange in traffic:
        try:
            kind = _check(exchange)
        except ContractError as exc:
            problems.append(f"{exchange.method} {urlsplit(exchange.url).path}: {exc}")
            continue
        checked[kind] = checked.get(kind, 0) + 1
    assert problems == []
    # the flows used every operation jetfort has: each was seen and checked at least once
    expected = {"token", "Query Orders/Orders", "Order/SendOrderStatus", "Order/CreateDeliveryNote",
                "Order/CancelOrder", "Order/CreateInvoice", "Product/ImportProducts", "Product/ImportSkuPriceLists",
                "Product/ImportOnhands", "Job/Get", "Job/GetLog"}
    assert expected <= set(checked), sorted(expected - set(checked))
    print("checked:", json.dumps(checked, sort_keys=True))


def _check(exchange: Exchange) -> str:
    path = urlsplit(exchange.url).path
    if path.endswith("/identity/1.0/connect/token"):
        form = {k: v[0] for k, v in parse_qs(_text(exchange.body)).items()}
        if form.get("grant_type") != "client_credentials" or not {"client_id", "client_secret", "scope"} <= set(form):
            raise ContractError(f"token request form is {sorted(form)}")
        if form["scope"] not in ("playground", "stage", "prod"):
            raise ContractError(f"scope {form['scope']!r} is not an environment name")
        if exchange.status == 200:
            validate("TokenResponse", json.loads(exchange.answer))
        return "token"
    if "authorization" not in {k.lower() for k in exchange.headers} or not any(
            k.lower() in ("application-id", "applicationid") for k in exchange.headers):
        raise ContractError("Bearer token and application id header are required on every API call")
    if "/commerce/query/2.0/" in path:
        entity = path.split("/commerce/query/2.0/", 1)[1]
        if exchange.status == 200:  # every collection answer is an OData v4 envelope (§2b)
            envelope = json.loads(exchange.answer)
            if not isinstance(envelope, dict) or "value" not in envelope or set(envelope) - {
                    "@odata.context", "value", "@odata.nextLink"}:
                raise ContractError(f"OData envelope has {sorted(envelope)}")
            # rows are checked where the reference documents them; other sets' columns are UNCONFIRMED
            check(f"[{QUERY.get(entity, 'any')}]", envelope["value"], "$.value")
        return f"Query {entity}"
    operation = path.split("/commerce/connect/4.0/", 1)[1].removeprefix("api/")
    body_kind, header_kind, answer_kind = CONNECT[operation]
    if body_kind:
        check(body_kind, json.loads(_text(exchange.body)), "$")
    if header_kind:
        raw = next(v for k, v in exchange.headers.items() if k.lower() == "x-stormconnect-header")
        if "\n" in raw:
            raise ContractError("X-StormConnect-Header must be one line")
        validate(header_kind, json.loads(raw), "header")
    if answer_kind and exchange.status == 200:
        check(answer_kind, json.loads(exchange.answer), "answer")
    return operation


def _text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    return body.decode("utf-8") if isinstance(body, bytes) else body


def test_what_the_sandbox_pushes_and_what_the_receiver_answers_keep_to_the_reference(flows_env: Any) -> None:
    from fastapi.testclient import TestClient

    env = flows_env
    for ref in map(str, range(100101, 100121)):
        validate("OrderRequest", env.norce.order_state(ref)["order_request"])
    login = env.env.connections["norce_receiver_demo"]
    client = TestClient(create_receiver_app(ledger_factory=env.ledger))
    answer = client.post("/norce_demo/orders", json=env.norce.order_state("100101")["order_request"],
                         auth=(login["login"], login["password"]))
    assert answer.status_code == 200
    validate("OrderResponse", answer.json())
    refused = client.post("/norce_demo/orders", json={"Items": []}, auth=(login["login"], login["password"]))
    validate("OrderResponse", refused.json())
    assert refused.json()["StatusCode"] == "Failed"
