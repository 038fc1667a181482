"""Every recorded real Fortnox exchange, replayed against the sandbox.

A replay matches when status code, envelope keys, error key casing and code, MetaInformation,
list-item field names, entity and row field names (ignoring fields Fortnox added after 2023),
every field value of a successful answer — lists in their order included — (except those in
``vcr.VALUE_IGNORED``, each with its reason) and OAuth body keys agree with the recording. The ones that cannot match
are listed in ``CANNOT_MATCH`` with the reason; the test fails if any other exchange differs, and
also if a listed one starts to match (so the list never goes stale).

Every recorded write that succeeded is also read back from the sandbox (GET of the stored entity) and
compared with what Fortnox answered on each field the request named: the whole string kept (no
length limit tighter than Fortnox's), numbers rounded as Fortnox rounded them, empty values kept empty
(``fidelity.stored_diffs``; the divergences from the spec are listed in ``sandbox/fortnox/FIDELITY.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.contract.openapi import ContractError, validate_response

from .conftest import REPORT, Server
from .fidelity import RECONSTRUCTED, default_diffs, request_body, stored_diffs
from .vcr import Exchange, build_world, compare, field_drift, load, value_diffs

CANNOT_MATCH: dict[str, str] = {}

# recorded answers the official spec itself rejects even after the relaxation: the recording wins
_HOUSEWORK_ENUM = ("the spec's Order row HouseWorkType enum lacks it, but Fortnox accepted the order and "
                   "returned the value (recorded 201)")
CONTRACT_EXCEPTIONS: dict[str, str] = {
    "orders/housework_type_hvac": _HOUSEWORK_ENUM,
    "orders/housework_type_majorappliancerepair": _HOUSEWORK_ENUM,
}


Fetch = Callable[[str], Any]


def _send(server: Server, exchange: Exchange) -> tuple[requests.Response, Fetch | None]:
    """Replay one exchange; also return a GET for the company it ran in (None for OAuth exchanges)."""
    sandbox = server.sandbox
    credentials = sandbox.create_company(empty=True)
    session = requests.Session()
    if exchange.name.startswith("authentication/"):
        client = (credentials.client_id, credentials.client_secret)
        if exchange.name.endswith("invalid_authorization"):
            client = (credentials.client_id, "a-secret-that-is-wrong")  # what makes Fortnox answer invalid_client
        if exchange.path.endswith("/oauth-v1/token"):
            return session.post(f"{server.base}/oauth-v1/token", auth=client, data={
                "grant_type": "refresh_token", "refresh_token": credentials.refresh_token}), None
        expired = sandbox.mint_access_token(credentials.tenant_id, credentials.client_id, ttl=-1)
        return session.request(exchange.method, server.base + exchange.target, headers={
            "Authorization": f"Bearer {expired}", "Content-Type": "application/json", "Accept": "application/json"}), None
    company = sandbox.company(credentials.tenant_id)
    with company.lock:
        build_world(company, exchange)
    token = sandbox.mint_access_token(credentials.tenant_id, credentials.client_id)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    body: Any = exchange.body or None
    if exchange.name in RECONSTRUCTED:
        body = json.dumps(RECONSTRUCTED[exchange.name])
    response = session.request(exchange.method, server.base + exchange.target, data=body.encode() if body else None,
                               headers=headers)
    return response, lambda path: session.get(server.base + path, headers=headers).json()


def _stored_entity_diffs(exchange: Exchange, body: Any, fetch: Fetch | None) -> list[str] | None:
    """After a recorded write that succeeded: read the stored entity back and compare it with what
    Fortnox answered on every field the request named (lengths, decimals, empties). None: no write."""
    sent = request_body(exchange)
    if sent is None or fetch is None or exchange.status >= 300 or not isinstance(body, dict):
        return None
    envelope = next(iter(sent))
    url = (body.get(envelope) or {}).get("@url")
    if not url:
        return [f"no stored {envelope} to read back"]
    stored = fetch(urlsplit(url).path).get(envelope)
    diffs = stored_diffs(sent[envelope], stored, exchange.response[envelope])
    if exchange.method == "POST":
        diffs += default_diffs(stored, exchange.response[envelope])
    return [f"stored entity: {d}" for d in diffs]


def test_recorded_exchanges_replay_against_the_sandbox(server: Server) -> None:
    exchanges = load()
    assert len(exchanges) == 117
    matched, mismatched, contract_failures, stored_checked = [], {}, {}, 0
    for exchange in exchanges:
        response, fetch = _send(server, exchange)
        body = response.json() if response.content else None
        diffs = compare(exchange, response.status_code, body)
        if field_drift(exchange, body):
            diffs.append(f"entity field names differ: {sorted(field_drift(exchange, body))}")
        diffs += value_diffs(exchange, body)
        stored = _stored_entity_diffs(exchange, body, fetch)
        if stored is not None:
            stored_checked += 1
            diffs += stored
        if diffs:
            mismatched[exchange.name] = diffs
        else:
            matched.append(exchange.name)
        if exchange.path.startswith("/3/") and body is not None:
            try:
                validate_response(exchange.method, exchange.target, response.status_code, body)
            except ContractError as exc:
                contract_failures[exchange.name] = str(exc)[:300]
    summary = (f"VCR replay: {len(matched)}/{len(exchanges)} match ({len(CANNOT_MATCH)} allowlisted as unmatchable, "
               f"{len(RECONSTRUCTED)} with redacted request bodies rebuilt, "
               f"{len(CONTRACT_EXCEPTIONS)} recorded answers outside the official spec; "
               f"{stored_checked} recorded writes read back and compared as stored)")
    REPORT.append(summary)
    print(f"\n{summary}")
    for name, diffs in sorted(mismatched.items()):
        print(f"  MISMATCH {name}: {'; '.join(diffs)}  [{CANNOT_MATCH.get(name, 'NOT ALLOWLISTED')}]")
    unexpected = {n: d for n, d in mismatched.items() if n not in CANNOT_MATCH}
    stale = sorted(n for n in CANNOT_MATCH if n not in mismatched)
    assert not unexpected, f"replays that differ from the recording: {json.dumps(unexpected, indent=1)}"
    assert not stale, f"allowlisted as 'cannot match' but matching now (remove them): {stale}"
    unexpected_contract = {n: e for n, e in contract_failures.items() if n not in CONTRACT_EXCEPTIONS}
    assert not unexpected_contract, f"sandbox answers outside the contract: {json.dumps(unexpected_contract, indent=1)}"
    assert sorted(CONTRACT_EXCEPTIONS) == sorted(contract_failures)


@pytest.mark.parametrize("name", sorted(RECONSTRUCTED))
def test_reconstructed_bodies_belong_to_redacted_recordings(name: str) -> None:
    exchange = next(e for e in load() if e.name == name)
    assert exchange.body == "<REFRESH_TOKEN>"  # only rebuild what the recorder really destroyed


def test_the_comparison_notices_what_a_client_would_notice() -> None:
    recorded = next(e for e in load() if e.name == "orders/find_failure")
    assert compare(recorded, 404, recorded.response) == []
    lowercase = {"ErrorInformation": {"error": 1, "message": "Kan inte hitta ordern.", "code": 2000439}}
    assert any("error keys" in d for d in compare(recorded, 404, lowercase))
    wrong_code = {"ErrorInformation": {"Error": 1, "Message": "x", "Code": 2000434}}
    assert any("error code" in d for d in compare(recorded, 404, wrong_code))
    assert any("status" in d for d in compare(recorded, 400, recorded.response))
    listing = next(e for e in load() if e.name == "customers/search_by_name")
    fewer = {**listing.response, "MetaInformation": {"@TotalResources": 1, "@TotalPages": 1, "@CurrentPage": 1}}
    assert any("MetaInformation" in d for d in compare(listing, 200, fewer))
    created = next(e for e in load() if e.name == "orders/save_new")
    missing_field = {"Order": {k: v for k, v in created.response["Order"].items() if k != "TotalToPay"}}
    assert field_drift(created, missing_field) == {"TotalToPay"}
