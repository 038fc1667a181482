"""Provider metadata: registers the ``fortnox``, ``jetshop``, ``norce`` and ``jetfort_ledger`` connection types.

Airflow 3 rejects connections whose type no provider registered, and since 3.2 the form fields
are declared here (``conn-fields`` / ``ui-field-behaviour``) rather than in hook methods.
"""

from __future__ import annotations

from typing import Any

import jetfort


def _secret(label: str, description: str) -> dict[str, Any]:
    """A field that holds a secret.

    Airflow 3.3 takes ``format: password`` as the field's sensitivity: the UI's connection form
    renders it as a password input (``ConnectionFormWidgetInfo.is_sensitive``). Airflow's secrets
    masker (task logs, ``GET /api/v2/connections``, the rendered ``extra``) hides extras by *name*
    (``[core] sensitive_var_conn_names`` plus words such as ``token``, ``secret``, ``password``), so
    every secret field's name must contain one of them (tests/jetfort/test_provider.py checks it).
    """
    return {"label": label, "description": description,
            "schema": {"type": ["string", "null"], "format": "password"}}


def _text(label: str, description: str, default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


def _seconds(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["number", "null"]}}


def _whole(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["integer", "null"]}}


def _norce_connection_type() -> dict[str, Any]:
    """The ``norce`` type: client id/secret in login/password, the tenant and its codes in extras."""
    return {
        "connection-type": "norce",
        "hook-class-name": "jetfort.norce.backend.NorceShop",
        "hook-name": "Norce Commerce",
        "conn-fields": {
            "slug": _text("Slug", "The tenant's name in the API host: https://<slug>.api-se[.<env>].norce.tech"),
            "environment": _text("Environment", "playground, stage or prod (also the OAuth scope)"),
            "application_id": _whole("Application id", "Norce application (sales channel) id"),
            "account_id": _whole("Account id", "Norce account of the integration user (catalog imports)"),
            "shop_id": _text("Shop key", "ShopOrder.shop_id of this shop's orders (empty = the slug)"),
            "warehouse_code": _text("Warehouse code", "Norce warehouse that stock updates go to"),
            "location_code": _text("Location code", "Location in that warehouse for stock updates"),
            "receiver_conn_id": _text("Receiver connection id",
                                      "Connection with the Basic-auth login Norce's order push must use"),
            "timezone": _text("Time zone", "IANA name for Norce's offset-less date-times",
                              "Europe/Stockholm"),
            "default_manufacturer": _text("Default manufacturer",
                                          "Manufacturer code for new products whose article names none"),
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "API base URL (override)", "login": "Client id",
                           "password": "Client secret"},
            "placeholders": {"host": "empty = https://<slug>.api-se[.<env>].norce.tech"},
        },
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "jetfort",
        "name": "jetfort",
        "description": "Jetshop / Norce Commerce ⇄ Fortnox sync for Apache Airflow 3.",
        "versions": [jetfort.__version__],
        "connection-types": [
            {
                "connection-type": "fortnox",
                "hook-class-name": "jetfort.fortnox.hook.FortnoxHook",
                "hook-name": "Fortnox",
                "conn-fields": {
                    "refresh_token": _secret(
                        "Initial refresh token",
                        "Leave empty and use Connect Fortnox on the jetfort page (or python -m jetfort.onboard), "
                        "which stores it in the ledger; jetfort rotates it there"),
                    "redirect_uri": _text("Redirect URI", "The integration's registered redirect URI (for "
                                          "python -m jetfort.onboard)"),
                    "tenant_id": _text("Tenant id", "Fortnox TenantId for client-credentials (service account)"),
                    "auth_url": _text("Token URL", "OAuth token endpoint",
                                      "https://apps.fortnox.se/oauth-v1/token"),
                    "company": _text("Company key", "Name of the shared request budget (default: conn id)"),
                    "budget": _text("Request budget",
                                    "Where the shared budget lives: ledger, redis://… or local "
                                    "(empty: $JETFORT_FORTNOX_BUDGET, else the ledger)"),
                    "refresh_margin": _seconds("Token refresh margin (seconds)",
                                               "Renew the access token this long before it expires; empty = 300"),
                    "rate_window": _seconds("Rate window (seconds)",
                                            "The API's rate window; empty = Fortnox's 5 s. Set only for a "
                                            "sandbox that runs a shorter window"),
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "API base URL", "login": "Client id", "password": "Client secret"},
                    "placeholders": {"host": "https://api.fortnox.se"},
                },
            },
            {
                "connection-type": "jetshop",
                "hook-class-name": "jetfort.jetshop.hook.JetshopHook",
                "hook-name": "Jetshop",
                "conn-fields": {
                    "shop_id": _text("ShopId", "Jetshop ShopId (GUID) sent in the SOAP header"),
                    "wsdl_url": _text("WSDL URL", "The live service's ?WSDL; empty = jetfort's shipped WSDL"),
                    "timezone": _text("Time zone", "The shop's time zone (IANA name) for its naive timestamps",
                                      "Europe/Stockholm"),
                    "culture": _text("Culture", "Language/culture of texts read from the shop", "sv-SE"),
                    "timeout": _seconds("Timeout (seconds)", "Per web-service call; empty = 30"),
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Web service URL", "login": "Integration login"},
                    "placeholders": {"host": "https://<shop>/Webservice20/v3.0/webservice.asmx"},
                },
            },
            _norce_connection_type(),
            {
                "connection-type": "jetfort_ledger",
                "hook-class-name": "jetfort.ledger.hook.LedgerHook",
                "hook-name": "jetfort ledger",
                "conn-fields": {
                    "url": _text("SQLAlchemy URL",
                                 "Overrides host/login fields, e.g. sqlite:////path/ledger.db; never with a "
                                 "password (this field is shown in clear): use Host/Login/Password instead"),
                    "secret_key": _secret("Token encryption key", "Fernet key for OAuth tokens at rest"),
                },
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {"host": "postgres host (empty = SQLite under AIRFLOW_HOME)"},
                },
            },
        ],
    }
