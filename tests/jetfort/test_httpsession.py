"""EnvCachedSession caches the environment's proxies per host, and still honours them."""

from __future__ import annotations

import json

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


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[requests.PreparedRequest, dict[str, object]]]:
    """Requests as they reach the transport adapter, with the adapter's keyword arguments."""
    seen: list[tuple[requests.PreparedRequest, dict[str, object]]] = []

    def send(self: object, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        seen.append((request, kwargs))
        response = requests.Response()
        response.status_code, response._content, response.url = 200, b"{}", request.url or ""
        response.request = request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return seen


def test_send_lean_builds_the_request_requests_builds(
        proxy_env: None, captured: list[tuple[requests.PreparedRequest, dict[str, object]]]) -> None:
    session = EnvCachedSession()
    session.headers.update({"Accept": "application/json", "X-Extra": "from-connection"})
    args = {"params": {"filter": "unbooked", "lastmodified": "2026-11-29 10:00:00", "q": "å ä/ö"},
            "json": {"Invoice": {"CustomerNumber": "1", "Rows": [{"Price": 1.5}]}},
            "headers": {"Authorization": "Bearer t", "Content-Type": "application/json"}, "timeout": (10, 60)}
    session.request("POST", "https://api.fortnox.se/3/invoices", **args)  # type: ignore[arg-type]
    session.send_lean("POST", "https://api.fortnox.se/3/invoices", **args)  # type: ignore[arg-type]
    (full, full_kwargs), (lean, lean_kwargs) = captured
    assert lean.method == full.method == "POST"
    assert lean.url == full.url and "q=%C3%A5+%C3%A4%2F%C3%B6" in (lean.url or "")
    assert json.loads(lean.body) == json.loads(full.body)  # type: ignore[arg-type]  # the same JSON value
    assert lean.headers["Content-Length"] == str(len(lean.body or b""))  # compact: shorter than requests' text
    assert {**lean.headers, "Content-Length": "-"} == {**full.headers, "Content-Length": "-"}
    assert lean_kwargs == full_kwargs  # proxies from the environment, verify, cert, stream, timeout
    # without params (the URL is quoted once and remembered), and a header removed by None
    for _ in range(2):
        for send in (session.request, session.send_lean):
            send("PUT", "https://api.fortnox.se/3/invoices/7 1/bookkeep",  # type: ignore[operator]
                 headers={"Authorization": "Bearer t", "X-Extra": None})
    again = captured[2:]
    assert len({r.url for r, _ in again}) == 1 and again[0][0].url.endswith("/7%201/bookkeep")  # type: ignore[union-attr]
    assert all(dict(r.headers) == dict(again[0][0].headers) for r, _ in again)
    assert "X-Extra" not in again[1][0].headers


def test_send_lean_keeps_the_bearer_token_where_netrc_would_replace_it(
        tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        captured: list[tuple[requests.PreparedRequest, dict[str, object]]]) -> None:
    netrc = tmp_path / ".netrc"  # type: ignore[operator]
    netrc.write_text("machine api.fortnox.se login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = EnvCachedSession()
    headers = {"Authorization": "Bearer token-1"}
    session.request("GET", "https://api.fortnox.se/3/invoices", headers=headers)
    session.send_lean("GET", "https://api.fortnox.se/3/invoices", headers=headers)
    (full, _), (lean, _) = captured
    assert str(full.headers["Authorization"]).startswith("Basic ")  # what plain requests does
    assert lean.headers["Authorization"] == "Bearer token-1"


def test_send_lean_honours_session_proxies_and_hooks(
        proxy_env: None, captured: list[tuple[requests.PreparedRequest, dict[str, object]]]) -> None:
    session = EnvCachedSession()
    session.proxies = {"https": "http://from-connection:8080"}
    session.verify = False
    called: list[int] = []
    session.hooks["response"].append(lambda r, **_: called.append(r.status_code))
    response = session.send_lean("GET", "https://api.fortnox.se/3/invoices", timeout=5)
    (_, kwargs), = captured
    assert kwargs["proxies"]["https"] == "http://from-connection:8080"  # type: ignore[index]
    assert kwargs["verify"] is False and kwargs["timeout"] == 5
    assert called == [200] and response.json() == {}


def test_what_it_overrides_and_calls_in_requests_keeps_its_shape() -> None:
    """``EnvCachedSession`` (kept: about a fifth of jetfort's CPU per order, ``bench/internals.py``)
    overrides ``merge_environment_settings`` and builds requests from ``PreparedRequest``'s steps: a
    requests upgrade that changes how those are called must fail here, by name."""
    import inspect

    from requests.sessions import merge_setting
    from requests.utils import get_environ_proxies

    def params(func: object) -> list[str]:
        return list(inspect.signature(func).parameters)  # type: ignore[arg-type]

    assert params(requests.Session.merge_environment_settings) == ["self", "url", "proxies", "stream", "verify",
                                                                   "cert"]
    assert params(merge_setting)[:2] == ["request_setting", "session_setting"]
    assert params(get_environ_proxies) == ["url", "no_proxy"]
    assert params(requests.PreparedRequest.prepare_url)[:3] == ["self", "url", "params"]
    assert params(requests.PreparedRequest.prepare_body)[:3] == ["self", "data", "files"]
    for step in ("prepare_method", "prepare_headers", "prepare_hooks"):
        assert len(params(getattr(requests.PreparedRequest, step))) == 2, step
    # Session.request still asks merge_environment_settings (the override is what caches the environment)
    assert "merge_environment_settings" in inspect.getsource(requests.Session.request)


def test_like_carries_over_a_configured_session(captured: list[tuple[requests.PreparedRequest, dict[str, object]]]
                                                ) -> None:
    configured = requests.Session()
    configured.headers["X-Extra"] = "from-connection"
    configured.proxies = {"https": "http://from-connection:8080"}
    configured.verify, configured.cert, configured.max_redirects, configured.trust_env = False, "/c.pem", 3, False
    adapter = requests.adapters.HTTPAdapter()
    configured.mount("https://", adapter)
    session = EnvCachedSession.like(configured)
    assert session.get_adapter("https://api.fortnox.se/") is adapter
    assert (session.verify, session.cert, session.max_redirects, session.trust_env) == (False, "/c.pem", 3, False)
    session.send_lean("GET", "https://api.fortnox.se/3/invoices", timeout=5)
    (request, kwargs), = captured
    assert request.headers["X-Extra"] == "from-connection"
    assert kwargs["proxies"] == {"https": "http://from-connection:8080"} and kwargs["verify"] is False
