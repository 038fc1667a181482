"""EnvCachedSession caches the environment's proxies per host, and still honours them."""

from __future__ import annotations

import pytest
import requests

from jetfort.httpsession import EnvCachedSession


def settings(session: requests.Session, url: str, **kwargs: object) -> dict[str, object]:
    return session.merge_environment_settings(url, dict(kwargs.get("proxies") or {}), None,  # type: ignore[arg-type]
                                              kwargs.get("verify"), None)


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                 "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example,127.0.0.1")


@pytest.mark.parametrize("url", ["https://api.fortnox.se/3/invoices", "https://internal.example/ws",
                                 "http://127.0.0.1:8080/x", "https://api.fortnox.se/3/orders?page=2"])
def test_same_answer_as_requests(proxy_env: None, url: str) -> None:
    plain, cached = requests.Session(), EnvCachedSession()
    for _ in range(2):  # the second time from the cache
        assert settings(cached, url) == settings(plain, url)


def test_https_proxy_and_no_proxy_are_honoured(proxy_env: None) -> None:
    session = EnvCachedSession()
    assert settings(session, "https://api.fortnox.se/3/invoices")["proxies"]["https"] == "http://proxy.example:3128"  # type: ignore[index]
    assert "https" not in settings(session, "https://internal.example/ws")["proxies"]  # type: ignore[operator]


def test_explicit_settings_win_and_trust_env_off(proxy_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    session = EnvCachedSession()
    got = settings(session, "https://api.fortnox.se/", proxies={"https": "http://mine:1"}, verify=False)
    assert got["proxies"]["https"] == "http://mine:1" and got["verify"] is False  # type: ignore[index]
    assert settings(session, "https://api.fortnox.se/")["verify"] == "/etc/ssl/bundle.pem"
    session.trust_env = False
    assert settings(session, "https://api.fortnox.se/")["proxies"] == {}


def test_a_request_goes_through_the_proxy(proxy_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, str]] = []

    def send(self: object, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        seen.append(dict(kwargs["proxies"]))  # type: ignore[call-overload]
        response = requests.Response()
        response.status_code, response._content, response.url = 200, b"{}", request.url or ""
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    session = EnvCachedSession()
    session.get("https://api.fortnox.se/3/invoices")
    session.get("https://internal.example/ws")
    assert seen[0]["https"] == "http://proxy.example:3128"
    assert "https" not in seen[1]
