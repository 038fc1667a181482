"""Each fault knob, observed from a plain HTTP client (requests)."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import Api


def _knobs(api: Api, **knobs: object) -> None:
    response = api.server.session.put(f"{api.server.base}/_sandbox/faults", json=knobs)
    assert response.status_code == 200, response.text


def test_forced_429_storm_then_normal_service(api: Api) -> None:
    _knobs(api, forced={"rate_limit": 3})
    statuses = [api.get("/3/articles?limit=1").status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]
    fired = api.server.session.get(f"{api.server.base}/_sandbox/faults").json()["fired"]
    assert fired["rate_limit"] >= 3


def test_server_error_does_not_do_the_work(api: Api) -> None:
    _knobs(api, forced={"server_error": 1})
    failed = api.post("/3/customers", {"Customer": {"Name": "Never stored"}})
    assert failed.status_code == 500
    assert failed.json()["ErrorInformation"]["code"] == 1000003
    assert api.get("/3/customers?name=Never stored").json()["MetaInformation"]["@TotalResources"] == 0


def test_connection_reset_gives_a_connection_error_and_no_write(api: Api) -> None:
    before = api.company.counts()["orders"]
    _knobs(api, forced={"reset": 1})
    with pytest.raises(requests.ConnectionError):
        api.post("/3/orders", {"Order": {"CustomerNumber": "1"}})
    assert api.company.counts()["orders"] == before


def test_drop_after_commit_writes_then_hangs_up_so_a_retry_duplicates(api: Api) -> None:
    body = {"Order": {"CustomerNumber": "1", "ExternalInvoiceReference1": "shop-dup-1"}}
    _knobs(api, forced={"drop_after_commit": 1})
    with pytest.raises(requests.ConnectionError):
        api.post("/3/orders", body)
    assert api.company.counts()["orders"] == 1  # the write happened although the client saw no answer
    naive_retry = api.post("/3/orders", body)
    assert naive_retry.status_code == 201
    found = api.get("/3/orders?externalinvoicereference1=shop-dup-1").json()
    assert found["MetaInformation"]["@TotalResources"] == 2
    log = api.server.session.get(f"{api.server.base}/_sandbox/requests?limit=5").json()["requests"]
    assert any(e.get("fault") == "drop_after_commit" and e.get("status_committed") == 201 for e in log)


def test_drop_after_commit_spares_reads(api: Api) -> None:
    _knobs(api, drop_after_commit=1.0)
    assert api.get("/3/customers/1").status_code == 200


def test_expire_token_mid_run_forces_a_refresh(api: Api) -> None:
    assert api.get("/3/customers/1").status_code == 200
    _knobs(api, forced={"expire_token": 1})
    expired = api.get("/3/customers/1")
    assert expired.status_code == 401 and expired.json() == {"message": "unauthorized"}
    assert api.get("/3/customers/1").status_code == 401  # the token stays dead
    fresh = api.server.sandbox.mint_refresh_token(api.credentials.tenant_id, api.credentials.client_id)
    refreshed = api.server.session.post(f"{api.server.base}/oauth-v1/token", data={
        "grant_type": "refresh_token", "refresh_token": fresh}, auth=(api.credentials.client_id, api.credentials.client_secret))
    assert api.get("/3/customers/1", token=refreshed.json()["access_token"]).status_code == 200


def test_latency_delays_every_answer(api: Api) -> None:
    _knobs(api, latency=0.3)
    started = time.monotonic()
    assert api.get("/3/currencies").status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only; never flaky


def test_probabilistic_faults_are_seeded_and_unknown_knobs_are_refused(api: Api) -> None:
    def run() -> list[int]:
        _knobs(api, server_error=0.5, seed=42)
        return [api.get("/3/units").status_code for _ in range(12)]
    first, second = run(), run()
    assert first == second and 500 in first and 200 in first
    refused = api.server.session.put(f"{api.server.base}/_sandbox/faults", json={"gremlins": 1})
    assert refused.status_code == 422 and "gremlins" in refused.text
    cleared = api.server.session.delete(f"{api.server.base}/_sandbox/faults").json()["plan"]
    assert cleared["server_error"] == 0


def test_a_refresh_whose_answer_is_lost_burns_the_refresh_token(api: Api) -> None:
    server, creds = api.server, api.credentials
    refresh = server.sandbox.mint_refresh_token(creds.tenant_id, creds.client_id)
    assert server.session.put(f"{server.base}/_sandbox/oauth-faults",
                              json={"forced": {"drop_after_commit": 1}}).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.base}/oauth-v1/token", data=form, auth=(creds.client_id, creds.client_secret))
    retry = requests.post(f"{server.base}/oauth-v1/token", data=form, auth=(creds.client_id, creds.client_secret))
    assert retry.status_code == 400 and retry.json()["error"] == "invalid_grant"  # rotated server-side
    assert server.sandbox.oauth.rotations >= 1
