"""FortnoxHook.missing_accounts: which of the rules' accounts the chart lacks or has deactivated, and what
that costs in requests of the company's budget (counted in the sandbox's own request log)."""

from __future__ import annotations

from typing import Any

from sandbox.fortnox.emulator import Credentials

from .conftest import HookFactory, Server

#: a chart the size of a full BAS chart: 1 200 accounts (three pages of 500)
FULL_CHART = range(1000, 2200)


def _chart(server: Server, company: Credentials, numbers: range, inactive: int) -> None:
    fortnox = server.sandbox.company(company.tenant_id)
    with fortnox.lock:
        for number in numbers:
            fortnox.put("accounts", str(number), {
                "Active": number != inactive, "BalanceBroughtForward": 0, "CostCenter": None,
                "CostCenterSettings": "ALLOWED", "Description": f"Konto {number}", "Number": number, "Project": "",
                "ProjectSettings": "ALLOWED", "SRU": 7410, "VATCode": None, "Year": 1, "BalanceCarriedForward": 0})


def _account_requests(server: Server, company: Credentials) -> list[dict[str, Any]]:
    return [e for e in server.log_for(company.tenant_id) if e["path"].startswith("/3/accounts")]


def test_many_accounts_are_looked_up_in_the_listed_chart(make_hook: HookFactory, server: Server,
                                                         company: Credentials) -> None:
    _chart(server, company, FULL_CHART, inactive=2150)
    wanted = [*range(1100, 1118), 2150, 2500]  # 18 active, one deactivated, one not in the chart
    hook = make_hook()
    assert hook.missing_accounts(wanted) == [2150, 2500]
    calls = _account_requests(server, company)
    assert [e["path"] for e in calls] == ["/3/accounts"] * 3, calls  # every page once, no single reads
    assert sorted(e["query"] for e in calls) == [f"page={p}&limit=500" for p in (1, 2, 3)]


def test_a_few_accounts_are_read_one_by_one(make_hook: HookFactory, server: Server, company: Credentials) -> None:
    _chart(server, company, FULL_CHART, inactive=1500)
    hook = make_hook()
    assert hook.missing_accounts([1200, 1500, 9999]) == [1500, 9999]
    calls = _account_requests(server, company)
    assert sorted(e["path"] for e in calls) == ["/3/accounts/1200", "/3/accounts/1500", "/3/accounts/9999"]


def test_every_account_present_and_active_is_none_missing(make_hook: HookFactory, server: Server,
                                                          company: Credentials) -> None:
    _chart(server, company, FULL_CHART, inactive=0)
    hook = make_hook()
    assert hook.missing_accounts(range(2000, 2100)) == []
