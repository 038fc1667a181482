"""Connection types come from jetfort's provider entry point, with their form fields."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from airflow.api_fastapi.core_api.datamodels.connections import ConnectionResponse
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
from airflow.providers_manager import ProvidersManager


def test_conn_types_are_registered_with_their_hooks() -> None:
    hooks = ProvidersManager().hooks
    assert hooks["fortnox"].hook_class_name == "jetfort.fortnox.hook.FortnoxHook"
    assert hooks["jetshop"].hook_class_name == "jetfort.jetshop.hook.JetshopHook"
    assert hooks["norce"].hook_class_name == "jetfort.norce.backend.NorceShop"
    assert hooks["jetfort_ledger"].hook_class_name == "jetfort.ledger.hook.LedgerHook"


def test_form_fields_and_labels_show_in_the_ui() -> None:
    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    assert {"extra__fortnox__refresh_token", "extra__fortnox__tenant_id", "extra__fortnox__auth_url",
            "extra__jetshop__shop_id", "extra__jetshop__wsdl_url", "extra__norce__slug",
            "extra__norce__environment", "extra__norce__application_id"} <= set(widgets)
    behaviour = manager.field_behaviours
    assert behaviour["fortnox"]["relabeling"]["login"] == "Client id"
    assert behaviour["jetshop"]["relabeling"]["host"] == "Web service URL"
    assert behaviour["norce"]["relabeling"]["password"] == "Client secret"


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True, text=True, timeout=120)


def test_airflow_connections_add_accepts_both_types(airflow_db: Path) -> None:
    added = _airflow("connections", "add", "fortnox_cli_test", "--conn-type", "fortnox",
                     "--conn-host", "http://127.0.0.1:8801", "--conn-login", "client-id",
                     "--conn-extra", json.dumps({"tenant_id": "123"}))
    assert added.returncode == 0, added.stderr
    added = _airflow("connections", "add", "jetshop_cli_test", "--conn-type", "jetshop",
                     "--conn-host", "http://127.0.0.1:8802/Webservice20/v3.0/webservice.asmx",
                     "--conn-extra", json.dumps({"shop_id": "demoshop"}))
    assert added.returncode == 0, added.stderr
    shown = _airflow("connections", "get", "jetshop_cli_test", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    (conn,) = json.loads(shown.stdout)
    extra = conn.get("extra_dejson") or json.loads(conn.get("extra") or "{}")
    assert conn["conn_type"] == "jetshop" and extra["shop_id"] == "demoshop", conn


#: every connection field that holds a secret: client secret / shop password (standard password
#: field), the initial OAuth refresh token, the ledger's token-encryption key
SECRET_EXTRAS = {"fortnox": {"refresh_token"}, "jetshop": set(), "norce": set(), "jetfort_ledger": {"secret_key"}}


def test_the_ui_form_masks_every_secret_field_and_only_those() -> None:
    """What the UI's connection form renders: ``format: password`` is a masked input."""
    forms = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    for conn_type, secret in SECRET_EXTRAS.items():
        fields = forms[conn_type].extra_fields or {}
        masked = {name for name, spec in fields.items() if spec["schema"].get("format") == "password"}
        assert masked == secret, conn_type
        assert "password" not in ProvidersManager().field_behaviours[conn_type]["hidden_fields"], conn_type


def test_the_api_redacts_the_secret_extras_by_their_names() -> None:
    """``GET /api/v2/connections/<id>`` (and Airflow's masker) hide extras by field name."""
    for conn_type, secret in SECRET_EXTRAS.items():
        extra = {name: f"value-of-{name}-0123456789" for name in secret} | {"shop_id": "demoshop"}
        shown = ConnectionResponse(conn_id=f"{conn_type}_x", conn_type=conn_type, description=None, host="h",
                                   login="l", schema=None, port=None, password="pw-0123456789",
                                   extra=json.dumps(extra), team_name=None)
        assert shown.password == "***"
        assert json.loads(shown.extra or "{}") == {name: "***" for name in secret} | {"shop_id": "demoshop"}


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_extras() -> dict[str, set[str]]:
    """The extras README.md's "Connections" table documents per conn type: the backticked names
    after the first "extra" in each row, leaving out what stands in parentheses (example values)."""
    section = README.read_text().split("### Connections", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", section, flags=re.MULTILINE)
    documented: dict[str, set[str]] = {}
    for conn_type, fields in rows:
        after_extra = fields.split("extra", 1)[1] if "extra" in fields else ""
        without_examples = re.sub(r"\([^)]*\)", "", after_extra)
        documented[conn_type] = set(re.findall(r"`([a-z_]+)`", without_examples))
    return documented


def test_the_readme_table_is_read_as_documented() -> None:
    documented = _readme_extras()
    assert set(documented) == {"fortnox", "jetshop", "norce", "jetfort_ledger"}
    assert {"slug", "environment", "application_id", "account_id", "receiver_conn_id"} <= documented["norce"]
    assert {"budget", "company", "refresh_token"} <= documented["fortnox"]
    assert {"timezone", "culture", "shop_id"} <= documented["jetshop"]
    assert "ledger" not in documented["fortnox"]  # an example value of `budget`, not an extra


def test_the_ui_form_offers_every_extra_the_readme_documents() -> None:
    forms = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    for conn_type, extras in _readme_extras().items():
        offered = set(forms[conn_type].extra_fields or {})
        assert extras <= offered, f"{conn_type}: the form lacks {sorted(extras - offered)}"


def test_the_fortnox_form_offers_the_rate_window_in_seconds() -> None:
    forms = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    rate_window = (forms["fortnox"].extra_fields or {})["rate_window"]
    assert "number" in rate_window["schema"]["type"]
