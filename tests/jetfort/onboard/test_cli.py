"""``python -m jetfort.onboard``: the headless consent, run as a user runs it (a process reading the tenant
Variable and the ledger as the ``airflow`` CLI does), answered through the sandbox's consent page."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger import Ledger
from jetfort.ledger.tokens import TokenStore
from jetfort.onboard.consent import FortnoxConsent

from .conftest import CONN_ID, REDIRECT, REPO, Company


def _run(env: dict[str, str], tenant: str, pasted: str | None, company: Company) -> tuple[int, str, str]:
    """Start the CLI, give the consent its URL asks for (or not), paste the browser's address back."""
    proc = subprocess.Popen([sys.executable, "-m", "jetfort.onboard", tenant], cwd=REPO, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    printed = []
    url = None
    for line in proc.stdout:
        printed.append(line)
        if line.startswith("http"):
            url = line.strip()
        if line.startswith("2. Paste"):
            break
    assert url is not None, "".join(printed) + (proc.stderr.read() if proc.stderr else "")
    if pasted is None:
        answer = company.consent(url + f"&tenant_id={company.credentials.tenant_id}")
        pasted = f"{REDIRECT}?{urlencode(answer)}"
    out, err = proc.communicate(pasted + "\n", timeout=120)
    return proc.returncode, "".join(printed) + out, err


def _env(airflow_db: Path, ledger_url: str) -> dict[str, str]:
    """This session's Airflow (its metadata DB migrated), the tenant as a Variable, the Fortnox connection of the
    ``company`` fixture (already in the environment) and a ledger of the test's own."""
    raw = json.loads((REPO / "include" / "mappings" / "tenants" / "demo_erp.json").read_text())
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
            "AIRFLOW_HOME": str(airflow_db), "AIRFLOW_VAR_JETFORT_TENANT_ONB": json.dumps({**raw, "fortnox_conn_id": CONN_ID}),
            "JETFORT_LEDGER_URL": ledger_url}


def test_the_cli_prints_the_consent_url_and_stores_the_pasted_answer_s_token(
        company: Company, tmp_path: Path, airflow_db: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = _env(airflow_db, url)
    code, out, err = _run(env, "onb", None, company)
    assert code == 0, out + err
    assert "Connected: tenant onb" in out and f"Fortnox tenant id {company.credentials.tenant_id}" in out
    ledger = Ledger.from_url(url)
    hook = FortnoxHook(CONN_ID, ledger=ledger)
    stored = TokenStore(ledger).get(hook.token_key)
    assert stored is not None and stored.refresh_token
    assert stored.refresh_token not in out + err and str(stored.access_token) not in out + err
    assert hook.company_information().database_number == company.credentials.tenant_id
    assert [r["user_id"] for r in FortnoxConsent(ledger).recent("onb")] == [f"cli:{getpass.getuser()}"]


def test_the_cli_refuses_an_address_of_another_consent_and_an_unknown_tenant(company: Company, tmp_path: Path,
                                                                           airflow_db: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = _env(airflow_db, url)
    code, _out, err = _run(env, "onb", f"{REDIRECT}?code=abc&state=not-this-one", company)
    assert code == 2 and "not connected" in err and "unknown state" in err
    unknown = subprocess.run([sys.executable, "-m", "jetfort.onboard", "nobody"], cwd=REPO, env=env, text=True,
                             capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert unknown.returncode == 2 and "tenant nobody: no Variable jetfort_tenant_nobody" in unknown.stderr
