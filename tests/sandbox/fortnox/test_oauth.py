"""OAuth as Fortnox runs it: Basic-auth token endpoint, single-use rotating refresh tokens, 1 h
access tokens, client credentials with a TenantId header, one company's data per token."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import requests

from .conftest import Api, Server


def _token(server: Server, client: tuple[str, str], **form: str) -> requests.Response:
    return server.session.post(f"{server.base}/oauth-v1/token", auth=client, data=form)


def test_refresh_tokens_rotate_and_an_old_one_is_rejected_as_recorded(server: Server) -> None:
    creds = server.sandbox.create_company()
    client = (creds.client_id, creds.client_secret)
    first = _token(server, client, grant_type="refresh_token", refresh_token=creds.refresh_token)
    assert first.status_code == 200
    body = first.json()
    assert list(body) == ["access_token", "expires_in", "token_type", "scope", "refresh_token"]
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["refresh_token"] != creds.refresh_token
    reuse = _token(server, client, grant_type="refresh_token", refresh_token=creds.refresh_token)
    assert reuse.status_code == 400
    assert reuse.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    chain = body["refresh_token"]
    for _ in range(50):
        rotated = _token(server, client, grant_type="refresh_token", refresh_token=chain)
        assert rotated.status_code == 200
        chain = rotated.json()["refresh_token"]
    assert _token(server, client, grant_type="refresh_token", refresh_token=body["refresh_token"]).status_code == 400


def test_bad_client_credentials_give_invalid_client_as_text_plain(server: Server) -> None:
    creds = server.sandbox.create_company()
    wrong = _token(server, (creds.client_id, "not-the-secret"), grant_type="refresh_token",
                   refresh_token=creds.refresh_token)
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("text/plain")
    assert wrong.json() == {"error": "invalid_client", "error_description": "The client credentials are invalid"}
    # the failed attempt did not burn the refresh token
    ok = _token(server, (creds.client_id, creds.client_secret), grant_type="refresh_token",
                refresh_token=creds.refresh_token)
    assert ok.status_code == 200


def _consent(server: Server, decision: str, **params: str) -> dict[str, str]:
    """Open the consent page as a browser would, press a button, return the redirect's query."""
    page = server.session.get(f"{server.base}/oauth-v1/auth", params={"response_type": "code", **params},
                              allow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
    request_id = re.search(r'name="request" value="([^"]+)"', page.text)
    assert request_id is not None and 'action="consent"' in page.text
    answer = server.session.post(f"{server.base}/oauth-v1/consent", allow_redirects=False,
                                 data={"request": request_id.group(1), "decision": decision})
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == params.get("redirect_uri", "https://shop.example/cb")
    return dict(parse_qsl(location.query))


def test_the_consent_page_names_company_and_scopes_and_the_code_grants_only_those(server: Server) -> None:
    creds = server.sandbox.create_company(name="Konsult AB", client_id="app-consent",
                                          redirect_uri="https://shop.example/cb")
    client = (creds.client_id, creds.client_secret)
    params = {"client_id": creds.client_id, "state": "s-1", "scope": "article invoice",
              "tenant_id": str(creds.tenant_id)}
    page = server.session.get(f"{server.base}/oauth-v1/auth", params={"response_type": "code", **params})
    assert f'<option value="{creds.tenant_id}" selected>Konsult AB' in page.text and "<code>article</code>" in page.text and "<code>invoice</code>" in page.text
    assert "<code>order</code>" not in page.text
    query = _consent(server, "approve", **params)
    assert set(query) == {"code", "state"} and query["state"] == "s-1"
    token = _token(server, client, grant_type="authorization_code", code=query["code"]).json()
    assert token["scope"] == "article invoice"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert server.session.get(f"{server.base}/3/articles", headers=bearer).status_code == 200
    refused = server.session.get(f"{server.base}/3/orders", headers=bearer)  # a scope not consented to
    assert refused.status_code == 400 and refused.json()["ErrorInformation"]["code"] == 2000663


def test_a_denied_or_replayed_consent_gives_no_code(server: Server) -> None:
    creds = server.sandbox.create_company(client_id="app-deny", redirect_uri="https://shop.example/cb")
    params = {"client_id": creds.client_id, "state": "s-2", "scope": "article", "tenant_id": str(creds.tenant_id)}
    denied = _consent(server, "deny", **params)
    assert denied["error"] == "access_denied" and denied["state"] == "s-2" and "code" not in denied
    page = server.session.get(f"{server.base}/oauth-v1/auth", params={"response_type": "code", **params})
    request_id = re.search(r'name="request" value="([^"]+)"', page.text)
    assert request_id is not None
    form = {"request": request_id.group(1), "decision": "approve"}
    assert server.session.post(f"{server.base}/oauth-v1/consent", data=form, allow_redirects=False).status_code == 302
    again = server.session.post(f"{server.base}/oauth-v1/consent", data=form, allow_redirects=False)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_the_consent_request_is_checked_before_the_page_is_shown(server: Server) -> None:
    creds = server.sandbox.create_company(client_id="app-checks", redirect_uri="https://shop.example/cb")
    base = {"client_id": creds.client_id, "response_type": "code", "state": "s-3", "scope": "article"}

    def ask(**changes: str) -> requests.Response:
        return server.session.get(f"{server.base}/oauth-v1/auth", params={**base, **changes}, allow_redirects=False)

    assert ask(redirect_uri="https://evil.example/cb").status_code == 400
    assert ask(state="").status_code == 400
    assert ask(tenant_id="99999").status_code == 400
    unknown = ask(scope="article teleport")
    assert unknown.status_code == 302
    assert dict(parse_qsl(urlsplit(unknown.headers["location"]).query))["error"] == "invalid_scope"
    assert ask().status_code == 200


def test_authorization_code_is_single_use_and_redirect_flow_works(server: Server) -> None:
    creds = server.sandbox.create_company(client_id="app-redirect", redirect_uri="https://shop.example/cb")
    client = (creds.client_id, creds.client_secret)
    no_redirect = _token(server, client, grant_type="authorization_code", code=creds.authorization_code)
    assert no_redirect.status_code == 400  # the code was issued for a redirect_uri, which must be repeated
    exchanged = _token(server, client, grant_type="authorization_code", code=creds.authorization_code,
                       redirect_uri="https://shop.example/cb")
    assert exchanged.status_code == 200 and "refresh_token" in exchanged.json()
    again = _token(server, client, grant_type="authorization_code", code=creds.authorization_code,
                   redirect_uri="https://shop.example/cb")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    query = _consent(server, "approve", client_id=creds.client_id, redirect_uri="https://shop.example/cb",
                     state="xyz", scope="order invoice", tenant_id=str(creds.tenant_id))
    assert query["state"] == "xyz"
    mismatch = _token(server, client, grant_type="authorization_code", code=query["code"],
                      redirect_uri="https://evil.example/cb")
    assert mismatch.status_code == 400


def test_client_credentials_need_a_tenant_header_with_consent_and_give_no_refresh_token(server: Server) -> None:
    creds = server.sandbox.create_company()
    other = server.sandbox.create_company(client_id="someone-else")
    client = (creds.client_id, creds.client_secret)
    missing = _token(server, client, grant_type="client_credentials")
    assert missing.status_code == 400
    foreign = server.session.post(f"{server.base}/oauth-v1/token", auth=client, data={"grant_type": "client_credentials"},
                                  headers={"TenantId": str(other.tenant_id)})
    assert foreign.status_code == 400
    ok = server.session.post(f"{server.base}/oauth-v1/token", auth=client, data={"grant_type": "client_credentials"},
                             headers={"TenantId": str(creds.tenant_id)})
    assert ok.status_code == 200
    assert "refresh_token" not in ok.json()
    info = server.session.get(f"{server.base}/3/companyinformation",
                              headers={"Authorization": f"Bearer {ok.json()['access_token']}"})
    assert info.json()["CompanyInformation"]["DatabaseNumber"] == creds.tenant_id


def test_expired_or_unknown_access_tokens_get_the_recorded_401(api: Api) -> None:
    short = api.server.sandbox.mint_access_token(api.credentials.tenant_id, api.credentials.client_id, ttl=60)
    assert api.get("/3/customers/1", token=short).status_code == 200
    api.server.sandbox.clock.advance(61)
    try:
        expired = api.get("/3/customers/1", token=short)
        assert expired.status_code == 401
        assert expired.json() == {"message": "unauthorized"}
        assert api.get("/3/customers/1").status_code == 200  # the 1 h token is still alive
        api.server.sandbox.clock.advance(3600)
        assert api.get("/3/customers/1").status_code == 401
    finally:
        api.server.sandbox.clock.advance(-3661)
    garbage = api.get("/3/customers", token="not-a-token")
    assert garbage.status_code == 401 and garbage.json() == {"message": "unauthorized"}


def test_each_token_sees_only_its_own_company(server: Server) -> None:
    a = server.sandbox.create_company(empty=True)
    b = server.sandbox.create_company(empty=True)
    token_a, token_b = server.token(a), server.token(b)
    created = server.session.post(f"{server.base}/3/customers", json={"Customer": {"Name": "Only in A"}},
                                  headers={"Authorization": f"Bearer {token_a}", "Content-Type": "application/json"})
    assert created.status_code == 201
    listed_b = server.session.get(f"{server.base}/3/customers", headers={"Authorization": f"Bearer {token_b}"}).json()
    assert listed_b["MetaInformation"]["@TotalResources"] == 0
    assert server.sandbox.counts(a.tenant_id)["customers"] == 1


def test_missing_scope_is_refused(server: Server) -> None:
    creds = server.sandbox.create_company(client_id="orders-only")
    server.sandbox.oauth.clients["orders-only"].scopes = ("order",)
    token = server.sandbox.mint_access_token(creds.tenant_id, "orders-only")
    refused = server.session.get(f"{server.base}/3/customers", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400 and refused.json()["ErrorInformation"]["code"] == 2000663
    allowed = server.session.get(f"{server.base}/3/orders", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200


def test_revoked_refresh_token_cannot_be_used(server: Server) -> None:
    creds = server.sandbox.create_company()
    client = (creds.client_id, creds.client_secret)
    revoked = server.session.post(f"{server.base}/oauth-v1/revoke", auth=client,
                                  data={"token_type_hint": "refresh_token", "token": creds.refresh_token})
    assert revoked.json() == {"revoked": True}
    assert _token(server, client, grant_type="refresh_token", refresh_token=creds.refresh_token).status_code == 400


def test_refresh_tokens_live_45_days_and_codes_10_minutes(server: Server) -> None:
    creds = server.sandbox.create_company()
    client = (creds.client_id, creds.client_secret)
    try:
        server.sandbox.clock.advance(601)
        late_code = _token(server, client, grant_type="authorization_code", code=creds.authorization_code)
        assert late_code.status_code == 400 and late_code.json()["error"] == "invalid_grant"
        server.sandbox.clock.advance(45 * 86400)
        stale = _token(server, client, grant_type="refresh_token", refresh_token=creds.refresh_token)
        assert stale.status_code == 400 and stale.json()["error_description"] == "Invalid refresh token"
    finally:
        server.sandbox.clock.advance(-(601 + 45 * 86400))
    assert _token(server, client, grant_type="refresh_token", refresh_token=creds.refresh_token).status_code == 200
