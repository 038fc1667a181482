"""Token endpoint (IdentityServer shape, 3/min + burst 20 per IP), bearer and application-id checks, faults."""

from __future__ import annotations

import pytest
import requests

from sandbox.norce.state import NorceSandbox
from tests.sandbox.norce.conftest import APP_ID, CONNECT, QUERY, TOKEN_PATH, fetch_token


def test_token_is_a_3600_second_bearer_token(base_url: str) -> None:
    response = fetch_token(base_url)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "stage"
    assert body["access_token"].count(".") == 2  # JWT-like


@pytest.mark.parametrize(("overrides", "error"), [
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"client_id": "someone-else"}, "invalid_client"),
    ({"scope": "prod"}, "invalid_scope"),
    ({"scope": "production"}, "invalid_scope"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
])
def test_wrong_credentials_scope_or_grant_are_400_with_an_oauth_error(base_url: str, overrides: dict[str, str],
                                                                      error: str) -> None:
    response = fetch_token(base_url, **overrides)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_credentials_as_json_instead_of_a_form_are_refused(base_url: str) -> None:
    response = requests.post(base_url + TOKEN_PATH, json={"grant_type": "client_credentials",
                                                          "client_id": "jetfort-demo",
                                                          "client_secret": "norce-demo-secret"}, timeout=10)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


def test_burst_of_20_then_429_then_one_token_every_20_seconds(base_url: str, sb: NorceSandbox) -> None:
    codes = [fetch_token(base_url).status_code for _ in range(21)]
    assert codes == [200] * 20 + [429]
    assert "Retry-After" not in fetch_token(base_url).headers
    sb.advance(19)
    assert fetch_token(base_url).status_code == 429  # 3 a minute: 20 s per token
    sb.advance(2)
    assert fetch_token(base_url).status_code == 200
    assert fetch_token(base_url).status_code == 429
    stats = requests.get(base_url + "/_sandbox/stats", timeout=10).json()
    assert stats["token_requests"] == 25
    assert stats["tokens_issued"] == 21


def test_failed_logins_count_against_the_limit_too(base_url: str) -> None:
    for _ in range(20):
        assert fetch_token(base_url, client_secret="wrong").status_code == 400
    assert fetch_token(base_url).status_code == 429


def test_query_needs_a_bearer_token(base_url: str) -> None:
    response = requests.get(base_url + QUERY + "Orders/Orders", headers={"applicationId": APP_ID}, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bogus = requests.get(base_url + QUERY + "Orders/Orders", timeout=10,
                         headers={"applicationId": APP_ID, "Authorization": "Bearer not-a-token"})
    assert bogus.status_code == 401


def test_connect_needs_a_bearer_token(base_url: str) -> None:
    response = requests.post(base_url + CONNECT + "Order/SendOrderStatus", timeout=10,
                             json={"ClientOrderRef": 100101, "OrderStatus": "Confirmed"})
    assert response.status_code == 401


def test_token_expires_after_an_hour(base_url: str, token: str, sb: NorceSandbox) -> None:
    headers = {"Authorization": f"Bearer {token}", "applicationId": APP_ID}
    sb.advance(3599)
    assert requests.get(base_url + QUERY + "Core/Currencies", headers=headers, timeout=10).status_code == 200
    sb.advance(1)
    response = requests.get(base_url + QUERY + "Core/Currencies", headers=headers, timeout=10)
    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", ["applicationId", "ApplicationId", "application-id"])
def test_query_accepts_each_spelling_of_the_application_header(base_url: str, token: str, header: str) -> None:
    response = requests.get(base_url + QUERY + "Core/Currencies", timeout=10,
                            headers={"Authorization": f"Bearer {token}", header: APP_ID})
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"applicationId": "demoshop"}])
def test_query_without_an_integer_application_id_is_400(base_url: str, token: str,
                                                         headers: dict[str, str]) -> None:
    response = requests.get(base_url + QUERY + "Orders/Orders", timeout=10,
                            headers={"Authorization": f"Bearer {token}", **headers})
    assert response.status_code == 400
    assert "applicationId" in response.json()["error"]["message"]


def test_connect_works_without_the_application_header(base_url: str, token: str) -> None:
    response = requests.post(base_url + CONNECT + "Order/SendOrderStatus", timeout=10,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"ClientOrderRef": 100101, "OrderStatus": "Confirmed"})
    assert response.status_code == 200


def test_forced_faults_answer_429_503_and_reset(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    url = base_url + QUERY + "Core/Currencies"
    sb.faults.update(forced={"rate_limit": 1})
    assert http.get(url, timeout=10).status_code == 429
    sb.faults.update(forced={"server_error": 1})
    assert http.get(url, timeout=10).status_code == 503
    sb.faults.update(forced={"reset": 1})
    with pytest.raises(requests.ConnectionError):
        http.get(url, timeout=10)
    assert http.get(url, timeout=10).status_code == 200


def test_expire_token_fault_is_a_401(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    sb.faults.update(forced={"expire_token": 1})
    assert http.get(base_url + QUERY + "Core/Currencies", timeout=10).status_code == 401


def test_drop_after_commit_does_the_work_then_drops_the_answer(http: requests.Session, base_url: str,
                                                               sb: NorceSandbox) -> None:
    sb.faults.update(forced={"drop_after_commit": 1})
    with pytest.raises(requests.ConnectionError):
        http.post(base_url + CONNECT + "Order/SendOrderStatus", json={"ClientOrderRef": 100101,
                                                                      "OrderStatus": "Confirmed"}, timeout=10)
    assert sb.order_state("100101")["status_id"] == 2


def test_credentials_in_a_basic_header_are_not_read(base_url: str) -> None:
    response = requests.post(base_url + TOKEN_PATH, data={"grant_type": "client_credentials", "scope": "stage"},
                             auth=("jetfort-demo", "norce-demo-secret"), timeout=10)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


def test_every_secret_is_listed_for_leak_searches(sb: NorceSandbox, base_url: str) -> None:
    token = fetch_token(base_url).json()["access_token"]
    sb.set_push_target("http://127.0.0.1:9/orders", "norce-push", "push-password-123")
    listed = requests.get(f"{base_url}/_sandbox/secrets", timeout=10).json()
    found = dict(zip(listed["secrets"], listed["kinds"], strict=True))
    assert found == {"norce-demo-secret": "client secret", token: "access token",
                     "push-password-123": "push password"}
