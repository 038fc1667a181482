"""Norce's order receiver (norce-api.md §2a): Basic auth from an Airflow connection, the push stored in
the ledger's inbox before "OK", "Failed" + 500 when it could not be stored, and no secret or personal
data in the logs."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jetfort.ledger import Ledger, LedgerUnavailable
from jetfort.norce.receiver import MAX_BODY_BYTES, create_receiver_app

CONN = "norce_demo"
USER, PASSWORD = "norce-push", "Push-Secret-Åäö-4711"
URL = f"/{CONN}/orders"

#: An OrderRequest as Norce pushes it (§2a), with the buyer's personal data the logs must never show.
ORDER: dict[str, Any] = {
    "Header": {"ApplicationKey": "2c1e1a5e-7f44-4f3e-9a57-1f0b2b5c0d11"},
    "ClientOrderRef": "1000123",
    "ErpOrderNo": "",
    "OrderType": 1,
    "CurrencyCode": "SEK",
    "SellTo": {"Company": None, "Person": {"Email": "anna.svensson@example.se", "FirstName": "Anna",
                                           "LastName": "Svensson", "CellPhone": "+46701234567",
                                           "Address": {"Line1": "Storgatan 1", "ZipCode": "11122",
                                                       "City": "Stockholm", "Country": "SE"}}},
    "Items": [{"LineNo": 1, "PartNo": "ART-1", "Quantity": 2, "UnitPrice": 79.2, "UnitVat": 19.8,
               "VatRate": 25, "Discount": 0, "Type": "ErpStandard", "TypeGroup": "Physical"}],
    "Payments": [{"PaymentCode": 7, "PaymentRef": "psp-9f2", "Amount": 198.0, "CurrencyCode": "SEK"}],
}
PERSONAL = ("anna.svensson@example.se", "Svensson", "+46701234567", "Storgatan")


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(USER, PASSWORD)


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Norce connection names its receiver connection; that one holds what Norce must send."""
    _conn(monkeypatch, CONN, conn_type="norce", login="jetfort-demo", password="norce-demo-secret",
          extra={"slug": "demoshop", "environment": "stage", "application_id": 1244,
                 "receiver_conn_id": "norce_demo_receiver"})
    _conn(monkeypatch, "norce_demo_receiver", conn_type="generic", login=USER, password=PASSWORD)


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    return Ledger.from_url(sqlite_url)


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_receiver_app(lambda: ledger)) as test_client:
        yield test_client


def _stored(ledger: Ledger) -> list[tuple[str, str, int]]:
    return [(e.shop, e.ref, e.push_count) for e in ledger.inbox_pending(CONN)]


def test_a_push_is_stored_and_answered_ok(client: TestClient, ledger: Ledger) -> None:
    response = client.post(URL, json=ORDER, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"StatusCode", "Description", "HasErpOrderNo", "ErpOrderNo"}
    assert (body["StatusCode"], body["HasErpOrderNo"], body["ErpOrderNo"]) == ("OK", False, "")
    assert "1000123" in body["Description"]
    entry = ledger.inbox_get(CONN, "1000123")
    assert entry is not None and entry.payload == ORDER and entry.consumed_at is None


def test_the_rest_legacy_path_create_order_is_served(client: TestClient, ledger: Ledger) -> None:
    response = client.post(f"/{CONN}/orders/CreateOrder", json={**ORDER, "ClientOrderRef": "55"}, headers=AUTH)
    assert response.status_code == 200 and response.json()["StatusCode"] == "OK"
    assert _stored(ledger) == [(CONN, "55", 1)]


def test_a_push_without_credentials_is_challenged(client: TestClient, ledger: Ledger) -> None:
    response = client.post(URL, json=ORDER)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="jetfort-norce"')
    assert response.json()["StatusCode"] == "Failed"
    assert _stored(ledger) == []


@pytest.mark.parametrize("headers", [
    basic(USER, "Push-Secret-Åäö-4712"),  # wrong password
    basic("someone-else", PASSWORD),  # wrong user
    basic(USER, ""),
    basic(USER, PASSWORD + " "),
    {"Authorization": "Bearer Push-Secret-4711"},  # not Basic
    {"Authorization": "Basic not*base64"},
    {"Authorization": "Basic " + base64.b64encode(f"{USER}{PASSWORD}".encode()).decode()},  # no colon
], ids=["wrong-password", "wrong-user", "empty-password", "trailing-space", "bearer", "garbage", "no-colon"])
def test_wrong_credentials_are_refused(client: TestClient, ledger: Ledger, headers: dict[str, str]) -> None:
    response = client.post(URL, json=ORDER, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert _stored(ledger) == []


def test_a_changed_password_takes_effect_at_once(client: TestClient, ledger: Ledger,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "norce_demo_receiver", conn_type="generic", login=USER, password="rotated-secret-2")
    assert client.post(URL, json=ORDER, headers=AUTH).status_code == 401
    assert client.post(URL, json=ORDER, headers=basic(USER, "rotated-secret-2")).status_code == 200


@pytest.mark.parametrize("setup", ["unknown-connection", "not-norce", "no-receiver-conn", "receiver-missing",
                                   "receiver-without-password"])
def test_a_connection_that_is_no_receiver_refuses_every_push(client: TestClient, ledger: Ledger,
                                                             monkeypatch: pytest.MonkeyPatch, setup: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    conn = CONN
    if setup == "unknown-connection":
        conn = "norce_nowhere"
    elif setup == "not-norce":
        _conn(monkeypatch, CONN, conn_type="jetshop", extra={"receiver_conn_id": "norce_demo_receiver"})
    elif setup == "no-receiver-conn":
        _conn(monkeypatch, CONN, conn_type="norce", extra={"slug": "demoshop"})
    elif setup == "receiver-missing":
        monkeypatch.delenv("AIRFLOW_CONN_NORCE_DEMO_RECEIVER")
    else:  # an open receiver (empty password) is never served, not even to an empty password
        _conn(monkeypatch, "norce_demo_receiver", conn_type="generic", login=USER, password="")
    with caplog.at_level(logging.WARNING, logger="jetfort.norce.receiver"):
        response = client.post(f"/{conn}/orders", json=ORDER, headers=basic(USER, PASSWORD if
                                                                            setup != "receiver-without-password"
                                                                            else ""))
    assert response.status_code == 401
    assert _stored(ledger) == [] and ledger.inbox_pending("norce_nowhere") == []
    assert conn in caplog.text  # the operator learns why (which connection), the caller does not
    assert response.json()["Description"] == "authentication required"


def test_a_duplicate_push_is_stored_once_and_answered_ok(client: TestClient, ledger: Ledger) -> None:
    first = client.post(URL, json=ORDER, headers=AUTH)
    second = client.post(URL, json=ORDER, headers=AUTH)  # Norce retrying after a lost answer
    assert first.status_code == second.status_code == 200
    assert first.json()["StatusCode"] == second.json()["StatusCode"] == "OK"
    assert "already" in second.json()["Description"]
    assert _stored(ledger) == [(CONN, "1000123", 2)]


def test_ledger_down_answers_failed_with_500_and_recovers(ledger: Ledger) -> None:
    calls = {"n": 0}

    def flaky() -> Ledger:
        calls["n"] += 1
        if calls["n"] == 1:
            raise LedgerUnavailable("ledger connection 'jetfort_ledger' could not be read: OperationalError")
        return ledger

    with TestClient(create_receiver_app(flaky)) as client:
        down = client.post(URL, json=ORDER, headers=AUTH)
        assert down.status_code == 500
        assert down.json()["StatusCode"] == "Failed" and down.json()["HasErpOrderNo"] is False
        assert _stored(ledger) == []
        again = client.post(URL, json=ORDER, headers=AUTH)  # Norce's retry, the ledger is back
        assert again.status_code == 200 and _stored(ledger) == [(CONN, "1000123", 1)]


def test_a_failing_database_answers_failed_and_logs_no_personal_data(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """SQLAlchemy's error text carries the statement's parameters (the payload): never logged."""
    broken = Ledger.from_url(f"sqlite:///{tmp_path / 'empty.db'}", migrate_schema=False)  # no inbox table
    with caplog.at_level(logging.DEBUG), TestClient(create_receiver_app(lambda: broken)) as client:
        response = client.post(URL, json=ORDER, headers=AUTH)
    assert response.status_code == 500 and response.json()["StatusCode"] == "Failed"
    assert "could not store order 1000123" in caplog.text and "shop_inbox" in caplog.text
    for text in PERSONAL:
        assert text not in caplog.text


def test_the_order_is_committed_before_the_answer_is_sent(sqlite_url: str, ledger: Ledger) -> None:
    """The process dies (here: the connection breaks) right after storing: the order is in the ledger."""
    app = create_receiver_app(lambda: ledger)
    body = json.dumps(ORDER).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    seen_when_answering: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            # another process's view of the ledger at the moment the answer would leave
            seen_when_answering.append(Ledger.from_url(sqlite_url, migrate_schema=False).inbox_get(CONN, "1000123"))
            raise ConnectionResetError("the api-server died before answering")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": URL, "raw_path": URL.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"authorization", AUTH["Authorization"].encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    with pytest.raises(ConnectionResetError):
        asyncio.run(app(scope, receive, send))
    [entry] = seen_when_answering
    assert entry is not None and entry.payload == ORDER
    assert _stored(ledger) == [(CONN, "1000123", 1)]


def test_xml_is_refused_with_415(client: TestClient, ledger: Ledger) -> None:
    xml = "<OrderRequest><ClientOrderRef>1000123</ClientOrderRef></OrderRequest>"
    for content_type in ("application/xml", "text/xml; charset=utf-8", "application/json"):
        response = client.post(URL, content=xml, headers={**AUTH, "Content-Type": content_type})
        assert response.status_code == 415, content_type
        assert response.json()["StatusCode"] == "Failed" and "JSON" in response.json()["Description"]
    assert _stored(ledger) == []


@pytest.mark.parametrize(("body", "expected"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({k: v for k, v in ORDER.items() if k != "ClientOrderRef"}).encode(), "ClientOrderRef is missing"),
    (json.dumps({**ORDER, "ClientOrderRef": None}).encode(), "ClientOrderRef is missing"),
    (json.dumps({**ORDER, "ClientOrderRef": {"Id": 1}}).encode(), "ClientOrderRef must be text"),
    (json.dumps({**ORDER, "ClientOrderRef": "  "}).encode(), "ClientOrderRef"),
    (json.dumps({**ORDER, "ClientOrderRef": "9" * 201}).encode(), "ClientOrderRef"),
    (b'{"ClientOrderRef": "1", "Amount": NaN}', "not JSON"),
    (b'{"ClientOrderRef": "1", "Amount": 1e999}', "out of range"),
], ids=["broken", "array", "no-ref", "null-ref", "object-ref", "blank-ref", "long-ref", "nan", "huge"])
def test_a_body_that_cannot_be_stored_as_an_order_is_refused_naming_why(client: TestClient, ledger: Ledger,
                                                                        body: bytes, expected: str) -> None:
    response = client.post(URL, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["StatusCode"] == "Failed"
    assert expected in response.json()["Description"] and "not stored" in response.json()["Description"]
    assert _stored(ledger) == []


def test_a_numeric_client_order_ref_is_keyed_by_its_text_and_stored_as_sent(client: TestClient,
                                                                             ledger: Ledger) -> None:
    response = client.post(URL, json={**ORDER, "ClientOrderRef": 1000124}, headers=AUTH)
    assert response.status_code == 200
    entry = ledger.inbox_get(CONN, "1000124")
    assert entry is not None and entry.payload["ClientOrderRef"] == 1000124


def test_a_body_over_the_limit_is_refused(client: TestClient, ledger: Ledger) -> None:
    huge = json.dumps({**ORDER, "CustomerOrderComment": "x" * (MAX_BODY_BYTES + 1)})
    response = client.post(URL, content=huge, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["StatusCode"] == "Failed"
    assert _stored(ledger) == []


@pytest.mark.parametrize("path", [URL, f"{URL}/CreateOrder"])
def test_get_is_not_allowed(client: TestClient, ledger: Ledger, path: str) -> None:
    assert client.get(path, headers=AUTH).status_code == 405
    assert _stored(ledger) == []


def test_nothing_secret_or_personal_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert client.post(URL, json=ORDER, headers=AUTH).status_code == 200
        assert client.post(URL, json=ORDER, headers=AUTH).status_code == 200
        assert client.post(URL, json=ORDER, headers=basic("intruder", "guessed-password")).status_code == 401
        assert client.post(URL, json={**ORDER, "ClientOrderRef": None}, headers=AUTH).status_code == 400
    assert "1000123" in caplog.text  # the order ref is what the log names
    for text in (PASSWORD, "guessed-password", "intruder", AUTH["Authorization"][6:], *PERSONAL):
        assert text not in caplog.text, text


def test_the_credentials_never_show_in_a_repr() -> None:
    from jetfort.norce.receiver import receiver_credentials

    assert PASSWORD not in repr(receiver_credentials(CONN))
