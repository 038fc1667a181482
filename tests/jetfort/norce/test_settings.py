"""The ``norce`` connection: URLs per environment, required fields, refusals that name connection and field."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from airflow.models.connection import Connection

from jetfort.norce.errors import NorceConfigError
from jetfort.norce.settings import NorceSettings
from jetfort.shop.errors import ShopConfigError

SECRET = "s3cret-value-for-norce-7781"


def conn(extra: dict[str, Any], **fields: Any) -> Connection:
    values: dict[str, Any] = dict(conn_id="norce_shop1", conn_type="norce", login="jetfort-demo", password=SECRET)
    values.update(fields)
    return Connection(extra=json.dumps(extra), **values)


BASE = {"slug": "demoshop", "environment": "stage", "application_id": 1244}


def test_stage_urls_are_built_from_slug_and_environment() -> None:
    s = NorceSettings.from_connection(conn({**BASE, "account_id": "17"}))
    assert s.base_url == "https://demoshop.api-se.stage.norce.tech"
    assert s.token_url == "https://demoshop.api-se.stage.norce.tech/identity/1.0/connect/token"
    assert s.connect_base == "https://demoshop.api-se.stage.norce.tech/commerce/connect/4.0/"
    assert s.query_base == "https://demoshop.api-se.stage.norce.tech/commerce/query/2.0/"
    assert (s.client_id, s.client_secret, s.scope) == ("jetfort-demo", SECRET, "stage")
    assert (s.application_id, s.account_id) == (1244, 17)
    assert s.shop_id == "demoshop"  # defaults to the slug
    assert s.timezone == ZoneInfo("Europe/Stockholm")
    assert s.token_key == "norce:norce_shop1"


def test_production_has_no_environment_segment() -> None:
    s = NorceSettings.from_connection(conn({**BASE, "environment": "prod"}))
    assert s.token_url == "https://demoshop.api-se.norce.tech/identity/1.0/connect/token"
    assert s.scope == "prod"


def test_playground_and_explicit_fields() -> None:
    s = NorceSettings.from_connection(conn({**BASE, "environment": "playground", "shop_id": "norce-se",
                                            "warehouse_code": "MAIN", "location_code": "MAIN",
                                            "receiver_conn_id": "norce_receiver", "timezone": "Europe/Helsinki"}))
    assert s.base_url == "https://demoshop.api-se.playground.norce.tech"
    assert (s.shop_id, s.warehouse_code, s.location_code) == ("norce-se", "MAIN", "MAIN")
    assert s.receiver_conn_id == "norce_receiver"
    assert s.timezone == ZoneInfo("Europe/Helsinki")
    assert s.require("warehouse_code") == "MAIN"


def test_host_overrides_the_base_url_with_its_port() -> None:
    s = NorceSettings.from_connection(conn(BASE, host="http://127.0.0.1", port=8803))
    assert s.token_url == "http://127.0.0.1:8803/identity/1.0/connect/token"
    s = NorceSettings.from_connection(conn(BASE, host="http://127.0.0.1:9000/"))
    assert s.connect_base == "http://127.0.0.1:9000/commerce/connect/4.0/"


def test_production_spelled_out_is_refused_with_the_right_name() -> None:
    with pytest.raises(NorceConfigError) as err:
        NorceSettings.from_connection(conn({**BASE, "environment": "production"}))
    text = str(err.value)
    assert "norce_shop1" in text and "environment" in text and "'prod'" in text
    assert isinstance(err.value, ShopConfigError)


@pytest.mark.parametrize(("extra", "fields", "named"), [
    ({"environment": "stage", "application_id": 1}, {}, "slug"),
    ({"slug": "demoshop", "application_id": 1}, {}, "environment"),
    ({"slug": "demoshop", "environment": "lab", "application_id": 1}, {}, "environment"),
    ({"slug": "demoshop", "environment": "stage"}, {}, "application_id"),
    ({**BASE, "application_id": "12a"}, {}, "application_id"),
    ({**BASE, "application_id": True}, {}, "application_id"),
    ({**BASE, "application_id": 2**31}, {}, "application_id"),
    ({**BASE, "account_id": -3}, {}, "account_id"),
    ({**BASE, "timezone": "Mars/Olympus"}, {}, "timezone"),
    ({**BASE, "slug": "demo shop"}, {}, "slug"),
    (BASE, {"login": None}, "client id"),
    (BASE, {"password": ""}, "client secret"),
    (BASE, {"host": "ftp://example"}, "host"),
])
def test_missing_or_bad_fields_name_connection_and_field(extra: dict[str, Any], fields: dict[str, Any],
                                                         named: str) -> None:
    with pytest.raises(NorceConfigError) as err:
        NorceSettings.from_connection(conn(extra, **fields))
    assert "norce_shop1" in str(err.value) and named in str(err.value)
    assert SECRET not in str(err.value)


def test_optional_codes_are_required_only_where_used() -> None:
    s = NorceSettings.from_connection(conn(BASE))
    assert s.warehouse_code is None and s.account_id is None
    with pytest.raises(NorceConfigError, match=r"norce_shop1.*warehouse_code"):
        s.require("warehouse_code")


def test_the_secret_never_shows_in_repr() -> None:
    s = NorceSettings.from_connection(conn(BASE))
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert "jetfort-demo" in repr(s)
