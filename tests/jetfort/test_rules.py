"""Tenant rules: examples validate, invalid rules name tenant + field path (+ plan), loading keeps
valid tenants, defaults come from include/mappings, gates and caps."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jetfort import rules as rules_mod
from jetfort.rules import (
    RulesError,
    TenantRules,
    load_tenants,
    mappings_dir,
    parse_tenant,
    render_json_schema,
)
from jetfort.rules.types import secret_keys

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "include" / "mappings"
EXAMPLES = MAPPINGS / "tenants"
GUID_SE = "7c7dfec3-0b7a-4d1e-9a56-2f1e3c4b5a01"
GUID_NO = "0036268d-5e4f-4a3b-9c2d-1e0f9a8b7c03"
GUID_B2B = "f2585a2d-6c1b-4e0f-8d3a-1b2c3d4e5f02"


@pytest.fixture(autouse=True)
def _repo_mappings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the committed mappings unless it points elsewhere itself."""
    monkeypatch.setenv("JETFORT_MAPPINGS_DIR", str(MAPPINGS))


def channel(
    key: str = "se", culture: str = "sv-SE", currency: str = "SEK", guid: str = GUID_SE
) -> dict[str, Any]:
    return {"key": key, "culture": culture, "currency": currency, "price_list_guid": guid}


def minimal(flow: str = "erp", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "flow": flow,
        "fortnox_conn_id": "fortnox_demo",
        "shops": [{"key": "se", "jetshop_conn_id": "jetshop_demo_se", "channels": [channel()]}],
    }
    data.update(extra)
    return data


def two_shops(flow: str = "erp", **extra: Any) -> dict[str, Any]:
    data = minimal(flow, **extra)
    data["shops"].append(
        {
            "key": "no",
            "jetshop_conn_id": "jetshop_demo_no",
            "channels": [channel("no", "nb-NO", "NOK", GUID_NO)],
        }
    )
    return data


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def errors_of(raw: Any, tenant: str = "acme") -> str:
    with pytest.raises(RulesError) as info:
        parse_tenant(tenant, raw)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,flow", [("demo_ecom", "ecom"), ("demo_erp", "erp"), ("demo_combo", "combo")])
def test_example_tenants_validate(name: str, flow: str) -> None:
    rules = parse_tenant(name, (EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert rules.flow == flow
    assert rules.tenant_id == name
    assert rules.fortnox_conn_id == "fortnox_demo"
    assert {shop.jetshop_conn_id for shop in rules.shops} <= {"jetshop_demo_se", "jetshop_demo_nordic"}
    # a dump validates again to the same rules (what tasks pass around stays valid)
    again = TenantRules.model_validate(rules.model_dump(mode="json", by_alias=True))
    assert again.model_dump() == rules.model_dump()


def test_combo_example_is_multishop_with_two_shops() -> None:
    rules = parse_tenant("demo_combo", example("demo_combo"))
    assert [(s.key, c.key, c.currency) for s, c in rules.channels()] == [
        ("se", "se", "SEK"),
        ("nordic", "fi", "EUR"),
    ]
    assert rules.is_multishop
    assert rules.feature_allowed("multishop")
    # Jetshop status ids are per shop: the Nordic shop numbers its statuses 10..50
    assert rules.orders.trigger_statuses_for("nordic") == (10, 20)
    assert rules.orders.transferred_status_for("nordic") == 50
    assert rules.orders.trigger_statuses_for("se") == (1,)
    assert rules.stock.thresholds_for("nordic/fi").low_at_or_below == 10
    assert rules.stock.thresholds_for("se/se").low_at_or_below == 5
    nordic_delivered = rules.status_map.states_for("nordic").delivered
    se_delivered = rules.status_map.states_for("se").delivered
    assert nordic_delivered is not None and se_delivered is not None
    assert (nordic_delivered.jetshop_status, nordic_delivered.send_email, nordic_delivered.capture) == (30, False, True)
    assert se_delivered.send_email is True
    assert [c.jetshop_channel_id for _, c in rules.channels()] == [1, 2]
    assert rules.schedules.catalog == "37 * * * *"  # the demo tenants' crons are spread over the hour
    assert rules.schedules.orders == "2-59/5 * * * *"
    hourly = json.loads((EXAMPLES / "demo_combo.json").read_text())
    hourly["schedules"]["catalog"] = "@hourly"
    assert parse_tenant("hourly", json.dumps(hourly)).schedules.catalog == "0 * * * *"  # normalised for the timetable
    assert rules.channel("nordic/fi")[1].culture == "fi-FI"


def test_examples_hold_no_secrets() -> None:
    for path in EXAMPLES.glob("*.json"):
        assert secret_keys(json.loads(path.read_text(encoding="utf-8"))) == [], path.name


# --------------------------------------------------------------------------------------------
# Invalid rules: each names the tenant, the field path and (for gates) the plan
# --------------------------------------------------------------------------------------------


def set_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return data


def with_(base: Callable[[], dict[str, Any]], **changes: Any) -> Callable[[], dict[str, Any]]:
    """A case builder: base rules with dotted paths (``__`` for ``.``) set."""

    def build() -> dict[str, Any]:
        data = base()
        for key, value in changes.items():
            set_path(data, key.replace("__", "."), copy.deepcopy(value))
        return data

    return build


def without(base: Callable[[], dict[str, Any]], key: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        data = base()
        del data[key]
        return data

    return build


def erp() -> dict[str, Any]:
    return minimal("erp")


def ecom() -> dict[str, Any]:
    return minimal("ecom")


def dup_channels() -> dict[str, Any]:
    data = minimal("erp")
    data["shops"][0]["channels"].append(channel(guid=GUID_NO))
    return data


def dup_shops() -> dict[str, Any]:
    data = two_shops("erp")
    data["shops"][1]["key"] = "se"
    return data


INVALID: list[tuple[str, Callable[[], dict[str, Any]], str, str]] = [
    # (case id, rules, field path, message fragment)
    ("flow", with_(erp, flow="hybrid"), "flow", "Input should be 'ecom', 'erp' or 'combo'"),
    (
        "document",
        with_(erp, orders__document="faktura"),
        "orders.document",
        "Input should be 'order' or 'invoice'",
    ),
    ("missing_conn", without(erp, "fortnox_conn_id"), "fortnox_conn_id", "Field required"),
    ("typo_top", with_(erp, ordres={}), "ordres", "unknown field"),
    ("typo_nested", with_(erp, orders__documnet="order"), "orders.documnet", "unknown field"),
    ("no_shops", with_(erp, shops=[]), "shops", "List should have at least 1 item"),
    ("dup_shop", dup_shops, "shops[1].key", "duplicate shop key 'se' (also shops[0])"),
    ("dup_channel", dup_channels, "shops[0].channels[1].key", "duplicate channel key 'se'"),
    (
        "culture",
        with_(erp, shops__0__channels__0__culture="swedish"),
        "shops[0].channels[0].culture",
        "pattern",
    ),
    (
        "currency",
        with_(erp, shops__0__channels__0__currency="sek"),
        "shops[0].channels[0].currency",
        "pattern",
    ),
    (
        "guid",
        with_(erp, shops__0__channels__0__price_list_guid="b2c_se"),
        "shops[0].channels[0].price_list_guid",
        "valid UUID",
    ),
    ("conn_id", with_(erp, fortnox_conn_id="fortnox demo"), "fortnox_conn_id", "pattern"),
    (
        "cron",
        with_(erp, schedules__orders="61 * * * *"),
        "schedules.orders",
        "invalid cron expression '61 * * * *'",
    ),
    ("cron_fields", with_(erp, schedules__catalog="0 0 * * * *"), "schedules.catalog", "not a 5-field cron"),
    ("cron_once", with_(erp, schedules__drift="@once"), "schedules.drift", "unsupported preset '@once'"),
    ("timezone", with_(erp, schedules__timezone="Mars/Olympus"), "schedules.timezone", "unknown time zone"),
    (
        "overlap",
        with_(erp, schedules__window_overlap_minutes=-5),
        "schedules.window_overlap_minutes",
        "greater than or equal to 0",
    ),
    (
        "freight_row",
        with_(erp, orders__freight={"mode": "row"}),
        "orders.freight.article_number",
        "required when mode is 'row'",
    ),
    (
        "fee_header_article",
        with_(erp, orders__payment_fee={"mode": "header", "article_number": "AVG"}),
        "orders.payment_fee.article_number",
        "only used when mode is 'row'",
    ),
    (
        "transferred_loop",
        with_(erp, orders__trigger_statuses=[1, 3], orders__transferred_status=3),
        "orders.transferred_status",
        "3 is also a trigger status",
    ),
    (
        "trigger_unknown_shop",
        with_(erp, orders__trigger_statuses_by_shop={"dk": [1]}),
        "orders.trigger_statuses_by_shop.dk",
        "no shop with key 'dk'",
    ),
    (
        "trigger_dupes",
        with_(erp, orders__trigger_statuses=[1, 1]),
        "orders.trigger_statuses",
        "duplicate value(s) 1",
    ),
    (
        "create_in_erp",
        with_(erp, orders__missing_article="create"),
        "orders.missing_article",
        "'create' needs the shop to be product master (flow ecom or combo); flow is 'erp'",
    ),
    (
        "missing_article",
        with_(erp, orders__missing_article="skip"),
        "orders.missing_article",
        "Input should be 'create', 'text_row' or 'quarantine'",
    ),
    (
        "tolerance_places",
        with_(erp, orders__rounding_tolerance="0.505"),
        "orders.rounding_tolerance",
        "no more than 2 decimal places",
    ),
    (
        "tolerance_negative",
        with_(erp, orders__rounding_tolerance="-1"),
        "orders.rounding_tolerance",
        "greater than or equal to 0",
    ),
    (
        "sales_account",
        with_(erp, orders__accounts={"sales": {"25": 999}}),
        "orders.accounts.sales.25",
        "greater than or equal to 1000",
    ),
    (
        "terms_code",
        with_(erp, orders__customer_defaults={"terms_of_payment": "30 days"}),
        "orders.customer_defaults.terms_of_payment",
        "pattern",
    ),
    ("max_rows", with_(erp, orders__max_rows=501), "orders.max_rows", "less than or equal to 500"),
    ("match_empty", with_(erp, orders__customer_match=[]), "orders.customer_match", "at least 1 item"),
    (
        "capture_cancelled",
        with_(erp, status_map={"states": {"cancelled": {"capture": True}}}),
        "status_map.states.cancelled.capture",
        "a cancelled order is never captured",
    ),
    (
        "capture_twice",
        with_(erp, status_map={"states": {"paid": {"jetshop_status": 9, "capture": True}}}),
        "status_map.states.paid.capture",
        "capture may be set on one state only (set on delivered, paid)",
    ),
    (
        "status_is_trigger",
        with_(erp, status_map={"states": {"delivered": {"jetshop_status": 1}}}),
        "status_map.states.delivered.jetshop_status",
        "1 is an order trigger status",
    ),
    (
        "transferred_by_shop_loop",
        with_(
            lambda: two_shops("erp"),
            orders__trigger_statuses_by_shop={"no": [10]},
            orders__transferred_status_by_shop={"no": 10},
        ),
        "orders.trigger_statuses_by_shop.no",
        "contains the transferred status 10 of shop 'no'",
    ),
    (
        "transferred_unknown_shop",
        with_(erp, orders__transferred_status_by_shop={"dk": 50}),
        "orders.transferred_status_by_shop.dk",
        "no shop with key 'dk'",
    ),
    (
        "states_unknown_shop",
        with_(erp, status_map={"states_by_shop": {"dk": {}}}),
        "status_map.states_by_shop.dk",
        "no shop with key 'dk'",
    ),
    (
        "shop_status_is_trigger",
        with_(
            lambda: two_shops("erp"),
            orders__trigger_statuses_by_shop={"no": [10, 20]},
            orders__transferred_status_by_shop={"no": 50},
            status_map={"states_by_shop": {"no": {"delivered": {"jetshop_status": 20}}}},
        ),
        "status_map.states_by_shop.no.delivered.jetshop_status",
        "20 is an order trigger status of shop 'no'",
    ),
    (
        "shop_capture_cancelled",
        with_(erp, status_map={"states_by_shop": {"se": {"cancelled": {"capture": True}}}}),
        "status_map.states_by_shop.se.cancelled.capture",
        "a cancelled order is never captured",
    ),
    (
        "state_without_status",
        with_(erp, status_map={"states": {"paid": {"send_email": True}}}),
        "status_map.states.paid.jetshop_status",
        "Field required",
    ),
    (
        "unknown_state",
        with_(erp, status_map={"states": {"shipped": {"jetshop_status": 9}}}),
        "status_map.states.shipped",
        "unknown field",
    ),
    (
        "tracking_is_key",
        with_(erp, status_map={"tracking_field": "ExternalInvoiceReference1"}),
        "status_map.tracking_field",
        "already carries the idempotency key",
    ),
    (
        "tracking_template",
        with_(erp, status_map={"tracking_url_template": "https://t.example/"}),
        "status_map.tracking_url_template",
        "pattern",
    ),
    (
        "price_lists_ecom",
        with_(
            ecom,
            price_lists=[
                {
                    "customer_group": "b2b",
                    "fortnox_price_list": "AF",
                    "jetshop_price_lists": {"se/se": GUID_B2B},
                }
            ],
        ),
        "price_lists",
        "prices come from Fortnox only in flows erp and combo; flow is 'ecom'",
    ),
    (
        "price_list_channel",
        with_(
            erp,
            price_lists=[
                {
                    "customer_group": "b2b",
                    "fortnox_price_list": "AF",
                    "jetshop_price_lists": {"se/dk": GUID_B2B},
                }
            ],
        ),
        "price_lists[0].jetshop_price_lists.se/dk",
        "no channel 'se/dk'",
    ),
    (
        "price_list_base_guid",
        with_(
            erp,
            price_lists=[
                {
                    "customer_group": "b2b",
                    "fortnox_price_list": "AF",
                    "jetshop_price_lists": {"se/se": GUID_SE},
                }
            ],
        ),
        "price_lists[0].jetshop_price_lists.se/se",
        "is a channel's base price list",
    ),
    (
        "price_list_dup_group",
        with_(
            erp,
            price_lists=[
                {
                    "customer_group": "b2b",
                    "fortnox_price_list": "AF",
                    "jetshop_price_lists": {"se/se": GUID_B2B},
                }
            ]
            * 2,
        ),
        "price_lists[1].customer_group",
        "duplicate customer group 'b2b'",
    ),
    (
        "warehouse_points",
        with_(erp, stock={"source": "warehouse"}),
        "stock.stock_points",
        "needs at least one stock point code",
    ),
    (
        "points_disposable",
        with_(erp, stock={"stock_points": ["HUV"]}),
        "stock.stock_points",
        "only used with source 'warehouse'",
    ),
    (
        "thresholds",
        with_(erp, stock={"thresholds": {"low_at_or_below": 2, "out_at_or_below": 5}}),
        "stock.thresholds.out_at_or_below",
        "5 is above low_at_or_below 2",
    ),
    (
        "stock_ecom",
        with_(ecom, stock={"enabled": True}),
        "stock.enabled",
        "stock comes from Fortnox only in flows erp and combo",
    ),
    (
        "stock_channel_key",
        with_(erp, stock={"per_channel": {"se": {}}}),
        "stock.per_channel.se",
        "invalid key",
    ),
    (
        "stock_channel_unknown",
        with_(erp, stock={"per_channel": {"se/dk": {}}}),
        "stock.per_channel.se/dk",
        "no channel 'se/dk'",
    ),
    (
        "field_map",
        with_(erp, catalog={"field_map": {"Descriptoin": "Name"}}),
        "catalog.field_map.Descriptoin",
        "not a Fortnox article field",
    ),
    (
        "remap_article_number",
        with_(erp, catalog={"field_map": {"ArticleNumber": "EanCode"}}),
        "catalog.field_map.ArticleNumber",
        "cannot be remapped",
    ),
    (
        "plugin_secret",
        with_(erp, plugins=[{"path": "acme.plugins.mapper", "config": {"auth": {"api_token": "x"}}}]),
        "plugins[0].config.auth.api_token",
        "looks like a secret",
    ),
    (
        "plugin_path",
        with_(erp, plugins=["not a path"]),
        "plugins[0].path",
        "'not a path' is not a dotted import path",
    ),
    ("plugin_dup", with_(erp, plugins=["acme.mapper", "acme.mapper"]), "plugins[1].path", "duplicate plugin"),
    (
        "notify_smtp",
        with_(erp, notifications={"kind": "smtp", "conn_id": "smtp_default"}),
        "notifications.to",
        "smtp needs at least one recipient",
    ),
    (
        "notify_conn",
        with_(erp, notifications={"kind": "slack_webhook"}),
        "notifications.conn_id",
        "required for kind 'slack_webhook'",
    ),
    ("plan_value", with_(erp, plan="900"), "plan", "Input should be '100', '200', '400', '800' or 'premium'"),
    (
        "overrides_no_plan",
        with_(erp, plan_overrides={"features": ["plugins"]}),
        "plan_overrides",
        "only meaningful with a plan",
    ),
    (
        "overrides_two_caps",
        with_(erp, plan="200", plan_overrides={"monthly_order_cap": 50, "unlimited_orders": True}),
        "plan_overrides.monthly_order_cap",
        "not both",
    ),
    (
        "override_feature",
        with_(erp, plan="200", plan_overrides={"features": ["warp"]}),
        "plan_overrides.features[0]",
        "Input should be 'order_status'",
    ),
]

GATES: list[tuple[str, Callable[[], dict[str, Any]], str, str, str, str]] = [
    # (case id, rules, field path, plan, fragment, minimum plan named)
    (
        "status_plan_100",
        with_(erp, plan="100", stock={"enabled": False}),
        "status_map.enabled",
        "100",
        "Order status back to the shop (enabled)",
        "200",
    ),
    (
        "stock_plan_100",
        with_(erp, plan="100", status_map={"enabled": False}),
        "stock.enabled",
        "100",
        "Stock sync (enabled)",
        "200",
    ),
    (
        "status_on_ecom_100",
        with_(ecom, plan="100", status_map={"enabled": True}),
        "status_map.enabled",
        "100",
        "Order status back to the shop (enabled)",
        "200",
    ),
    (
        "two_shops_200",
        lambda: two_shops("erp", plan="200"),
        "shops",
        "200",
        "Multishop (2 shop(s), 2 channels)",
        "400",
    ),
    (
        "two_channels_200",
        with_(dup_channels, plan="200", shops__0__channels__1__key="b2b"),
        "shops",
        "200",
        "Multishop (1 shop(s), 2 channels)",
        "400",
    ),
    ("combo_200", with_(minimal, flow="combo", plan="200"), "flow", "200", "Multishop (flow 'combo')", "400"),
    (
        "price_lists_200",
        with_(
            erp,
            plan="200",
            price_lists=[
                {
                    "customer_group": "b2b",
                    "fortnox_price_list": "AF",
                    "jetshop_price_lists": {"se/se": GUID_B2B},
                }
            ],
        ),
        "price_lists",
        "200",
        "Price lists per customer group (1 rule(s))",
        "400",
    ),
    (
        "plugins_400",
        with_(erp, plan="400", plugins=["acme.mapper"]),
        "plugins",
        "400",
        "Plugins (acme.mapper)",
        "800",
    ),
]


@pytest.mark.parametrize("case,build,path,fragment", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_rules_name_tenant_and_field(
    case: str, build: Callable[[], dict[str, Any]], path: str, fragment: str
) -> None:
    message = errors_of(build())
    lines = [line for line in message.splitlines() if line.startswith(f"tenant 'acme': {path}: ")]
    assert lines, f"{case}: no line for {path!r} in:\n{message}"
    assert any(fragment in line for line in lines), f"{case}: {fragment!r} not in:\n{message}"
    assert all(line.startswith("tenant 'acme': ") for line in message.splitlines())


@pytest.mark.parametrize("case,build,path,plan,fragment,needed", GATES, ids=[c[0] for c in GATES])
def test_feature_outside_plan_is_refused_naming_the_plan(
    case: str, build: Callable[[], dict[str, Any]], path: str, plan: str, fragment: str, needed: str
) -> None:
    message = errors_of(build())
    line = next((x for x in message.splitlines() if x.startswith(f"tenant 'acme': {path}: ")), None)
    assert line is not None, f"{case}: no line for {path!r} in:\n{message}"
    assert fragment in line
    assert f"plan '{plan}' does not include it" in line
    assert f"needs plan '{needed}' or higher" in line


def test_each_problem_is_its_own_line() -> None:
    data = erp()
    data["orders"] = {"document": "faktura", "max_rows": 0}
    data["shops"][0]["channels"][0]["currency"] = "kr"
    message = errors_of(data)
    assert sorted(line.split(": ")[1] for line in message.splitlines()) == [
        "orders.document",
        "orders.max_rows",
        "shops[0].channels[0].currency",
    ]


def test_plan_override_grants_a_feature() -> None:
    data = two_shops("erp", plan="200", plan_overrides={"features": ["multishop"]})
    rules = parse_tenant("acme", data)
    assert rules.feature_allowed("multishop")
    assert not rules.feature_allowed("price_lists")


def test_invalid_json_text() -> None:
    message = errors_of('{"flow": "erp",')
    assert message.startswith("tenant 'acme': (json): invalid JSON")
    assert "line 1" in message


def test_duplicate_json_keys_are_refused() -> None:
    text = '{"flow": "erp", "flow": "ecom", "fortnox_conn_id": "f", "shops": []}'
    assert errors_of(text) == "tenant 'acme': (json): duplicate key 'flow'"


def test_rules_must_be_an_object() -> None:
    assert errors_of("[]").startswith("tenant 'acme': (rules): Input should be a valid dictionary")


def test_invalid_tenant_id() -> None:
    message = errors_of(erp(), tenant="Acme-1")
    assert message.startswith("tenant 'Acme-1': (tenant id): must match")


def test_parsing_does_not_change_the_input() -> None:
    data = example("demo_combo")
    before = copy.deepcopy(data)
    parse_tenant("demo_combo", data)
    assert data == before


def test_rules_error_is_a_value_error_with_paths() -> None:
    with pytest.raises(ValueError) as info:
        parse_tenant("acme", with_(erp, flow="x", orders__document="y")())
    assert isinstance(info.value, RulesError)
    assert info.value.tenant_id == "acme"
    assert info.value.paths == ["flow", "orders.document"]
    copied = pickle.loads(pickle.dumps(info.value))
    assert (str(copied), copied.tenant_id) == (str(info.value), "acme")


# --------------------------------------------------------------------------------------------
# Defaults from include/mappings
# --------------------------------------------------------------------------------------------


def test_defaults_come_from_mappings() -> None:
    rules = parse_tenant("acme", erp())
    defaults = json.loads((MAPPINGS / "defaults.json").read_text(encoding="utf-8"))
    status = json.loads((MAPPINGS / "status_map.json").read_text(encoding="utf-8"))
    assert rules.orders.document == defaults["orders"]["document"]
    assert rules.orders.rounding_tolerance == Decimal(defaults["orders"]["rounding_tolerance"])
    assert rules.orders.idempotency_field == "ExternalInvoiceReference1"
    assert rules.schedules.orders == defaults["schedules"]["orders"]
    assert rules.status_map.tracking_field == status["tracking_field"] == "ExternalInvoiceReference2"
    delivered = rules.status_map.states.delivered
    assert delivered is not None
    assert delivered.model_dump() == status["states"]["delivered"]
    assert rules.orders.accounts.sales == {"25": 3001, "12": 3002, "6": 3003, "0": 3004}
    assert rules.orders.accounts.eu_reverse_charge == 3108
    assert rules.stock.status_ids.out_of_stock == defaults["stock"]["status_ids"]["out_of_stock"]
    assert rules.catalog.effective_field_map()["Description"] == "Name"


def test_one_tenant_s_rules_never_change_another_s_defaults() -> None:
    """The mappings are read once per process and shared by every tenant parsed from them: each
    tenant's rules hold their own copy of each default."""
    first = parse_tenant("first", erp())
    pristine = first.model_dump()
    for by_rate in (first.orders.accounts.sales, first.orders.accounts.freight_by_rate,
                    first.orders.accounts.payment_fee_by_rate):
        assert by_rate
        for rate in by_rate:
            by_rate[rate] = 9999
    first.catalog.field_map["Note"] = None
    second = parse_tenant("first", erp())
    assert second.model_dump() == pristine
    assert second.orders.accounts.sales == {"25": 3001, "12": 3002, "6": 3003, "0": 3004}


def test_partial_overrides_merge_over_defaults() -> None:
    data = erp()
    data["orders"] = {
        "accounts": {"sales": {"25": 3011}},
        "customer_defaults": {"terms_of_payment": "10days"},
    }
    data["status_map"] = {"states": {"delivered": {"jetshop_status": 12}, "invoiced": {"jetshop_status": 5}}}
    data["catalog"] = {"field_map": {"Note": None, "EAN": "ManufacturerModel"}}
    rules = parse_tenant("acme", data)
    assert rules.orders.accounts.sales == {"25": 3011, "12": 3002, "6": 3003, "0": 3004}
    assert rules.orders.accounts.sales_account_for(Decimal("25.00")) == 3011
    assert rules.orders.accounts.sales_account_for(6) == 3003
    assert rules.orders.customer_defaults.terms_of_payment == "10DAYS"  # Fortnox upper-cases codes
    assert rules.orders.customer_defaults.price_list == "A"
    delivered = rules.status_map.states.delivered
    assert delivered is not None
    assert (delivered.jetshop_status, delivered.capture, delivered.send_email) == (12, True, True)
    invoiced = rules.status_map.states.invoiced
    assert invoiced is not None
    assert (invoiced.jetshop_status, invoiced.send_email, invoiced.capture) == (5, False, False)
    assert rules.status_map.states.paid is None  # default: not pushed
    assert [s for s, _ in rules.status_map.states.mapped()] == ["delivered", "invoiced", "cancelled"]
    field_map = rules.catalog.effective_field_map()
    assert "Note" not in field_map
    assert field_map["EAN"] == "ManufacturerModel"


def test_status_ids_per_shop() -> None:
    """Jetshop status ids are per shop: a second shop with its own ids (as the sandbox's nordic shop)."""
    data = two_shops("erp")
    data["orders"] = {"trigger_statuses_by_shop": {"no": [10]}, "transferred_status_by_shop": {"no": 50}}
    data["status_map"] = {
        "states_by_shop": {"no": {"delivered": {"jetshop_status": 30}, "cancelled": {"jetshop_status": 40}}}
    }
    rules = parse_tenant("acme", data)
    assert rules.orders.trigger_statuses_for("no") == (10,)
    assert rules.orders.transferred_status_for("no") == 50
    assert rules.orders.transferred_status_for("se") == 6
    no_states = rules.status_map.states_for("no")
    assert no_states.delivered is not None and no_states.cancelled is not None
    assert (no_states.delivered.jetshop_status, no_states.delivered.capture) == (30, True)
    assert no_states.cancelled.jetshop_status == 40
    se_states = rules.status_map.states_for("se")
    assert se_states.delivered is not None and se_states.delivered.jetshop_status == 3


def test_mappings_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in MAPPINGS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    defaults = json.loads((tmp_path / "defaults.json").read_text(encoding="utf-8"))
    defaults["orders"]["document"] = "order"
    defaults["plans"]["200"]["monthly_order_cap"] = 250
    (tmp_path / "defaults.json").write_text(json.dumps(defaults), encoding="utf-8")
    monkeypatch.setenv("JETFORT_MAPPINGS_DIR", str(tmp_path))
    assert mappings_dir() == tmp_path
    rules = parse_tenant("acme", minimal("erp", plan="200"))
    assert rules.orders.document == "order"
    assert rules.monthly_order_cap == 250


def test_default_mappings_dir_is_next_to_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JETFORT_MAPPINGS_DIR")
    assert mappings_dir() == MAPPINGS


@pytest.mark.parametrize("flow,on", [("ecom", False), ("erp", True), ("combo", True)])
def test_status_and_stock_default_on_where_fortnox_masters(flow: str, on: bool) -> None:
    rules = parse_tenant("acme", minimal(flow))
    assert rules.status_map.enabled is on
    assert rules.stock.enabled is on


def test_explicit_enabled_wins_over_flow_default() -> None:
    rules = parse_tenant(
        "acme", minimal("erp", plan="100", status_map={"enabled": False}, stock={"enabled": False})
    )
    assert not rules.status_map.enabled and not rules.stock.enabled
    assert rules.features_used() == {}


# --------------------------------------------------------------------------------------------
# Gates and caps
# --------------------------------------------------------------------------------------------


def test_no_plan_means_no_gates_and_no_cap() -> None:
    rules = parse_tenant("acme", two_shops("erp", plugins=["acme.mapper"]))
    assert rules.plan is None
    assert rules.monthly_order_cap is None
    assert all(rules.feature_allowed(f) for f in rules_mod.FEATURES)
    assert set(rules.features_used()) == {"multishop", "order_status", "stock", "plugins"}


@pytest.mark.parametrize(
    "plan,cap,allowed",
    [
        ("100", 100, set()),
        ("200", 200, {"order_status", "stock"}),
        ("400", 400, {"order_status", "stock", "price_lists", "multishop"}),
        ("800", 800, {"order_status", "stock", "price_lists", "multishop", "plugins"}),
        ("premium", None, {"order_status", "stock", "price_lists", "multishop", "plugins"}),
    ],
)
def test_plan_gates_and_caps(plan: str, cap: int | None, allowed: set[str]) -> None:
    rules = parse_tenant("acme", minimal("ecom", plan=plan))
    assert rules.monthly_order_cap == cap
    assert {f for f in rules_mod.FEATURES if rules.feature_allowed(f)} == allowed


def test_plan_given_as_number() -> None:
    assert parse_tenant("acme", minimal("ecom", plan=400)).plan == "400"


def test_cap_overrides() -> None:
    capped = parse_tenant("acme", minimal("ecom", plan="100", plan_overrides={"monthly_order_cap": 150}))
    assert capped.monthly_order_cap == 150
    free = parse_tenant("acme", minimal("ecom", plan="100", plan_overrides={"unlimited_orders": True}))
    assert free.monthly_order_cap is None


def test_unknown_feature_name_raises() -> None:
    rules = parse_tenant("acme", erp())
    with pytest.raises(ValueError, match="unknown feature 'warp'"):
        rules.feature_allowed("warp")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_load_tenants_keeps_valid_tenants_when_one_is_invalid() -> None:
    variables = {
        "jetfort_tenant_good": json.dumps(erp()),
        "jetfort_tenant_bad": json.dumps(with_(erp, orders__document="faktura")()),
        "jetfort_tenant_broken": "{not json",
        "jetfort_tenant_combo": (EXAMPLES / "demo_combo.json").read_text(encoding="utf-8"),
        "some_other_variable": "{}",
    }
    tenants, errors = load_tenants(variables)
    assert sorted(tenants) == ["combo", "good"]
    assert sorted(errors) == ["bad", "broken"]
    assert str(errors["bad"]) == "tenant 'bad': orders.document: Input should be 'order' or 'invoice'"
    assert str(errors["broken"]).startswith("tenant 'broken': (json): invalid JSON")
    assert tenants["good"].tenant_id == "good"


# --------------------------------------------------------------------------------------------
# JSON schema
# --------------------------------------------------------------------------------------------


def test_committed_json_schema_is_current() -> None:
    committed = (MAPPINGS / rules_mod.SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: PYTHONPATH=plugins .venv/bin/python -m jetfort.rules"


def test_schema_requires_only_what_has_no_default() -> None:
    schema = TenantRules.model_json_schema(by_alias=True)
    assert sorted(schema["required"]) == ["flow", "fortnox_conn_id", "shops"]
    assert "$schema" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_examples_validate_against_the_committed_schema() -> None:
    """Editors pointed at the schema (``"$schema"`` in the examples) accept what jetfort accepts."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((MAPPINGS / rules_mod.SCHEMA_FILE).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(EXAMPLES.glob("*.json")):
        assert list(validator.iter_errors(json.loads(path.read_text(encoding="utf-8")))) == [], path.name
    assert list(validator.iter_errors(with_(erp, orders__document="faktura")()))  # and rejects a bad value


def test_python_m_jetfort_rules_writes_the_schema_into_the_mappings_dir(tmp_path: Path) -> None:
    """The maintenance command the mappings README names rewrites the schema where the data files are."""
    for path in MAPPINGS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / "tenant_rules.schema.json"
    target.write_text("{}\n", encoding="utf-8")
    env = {**os.environ, "JETFORT_MAPPINGS_DIR": str(tmp_path), "PYTHONPATH": str(REPO / "plugins")}
    done = subprocess.run([sys.executable, "-m", "jetfort.rules"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(target)
    assert target.read_text(encoding="utf-8") == (MAPPINGS / "tenant_rules.schema.json").read_text(encoding="utf-8")


def test_write_json_schema(tmp_path: Path) -> None:
    target = rules_mod.write_json_schema(tmp_path / "schema.json")
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "jetfort tenant rules"
