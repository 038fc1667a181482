"""Shop backends in the rules: each shop names its platform, and each platform's own fields are checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jetfort.mapping.prices import price_targets
from jetfort.rules import RulesError, parse_tenant

REPO = Path(__file__).resolve().parents[2]
COMBO = json.loads((REPO / "include/mappings/tenants/demo_combo.json").read_text())

NORCE_SHOP = {
    "key": "norce",
    "backend": "norce",
    "norce_conn_id": "norce_demo",
    "channels": [{"key": "se", "norce_application_id": 1244, "culture": "sv-SE", "currency": "SEK",
                  "norce_price_list": "SEK-BASE", "fortnox_price_list": "A"}],
}


def rules_with(*shops: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The combo demo with other shops (its per-shop settings for the Nordic shop dropped)."""
    rules = copy.deepcopy(COMBO)
    rules["shops"] = [copy.deepcopy(s) for s in shops]
    for section, field in (("orders", "trigger_statuses_by_shop"), ("orders", "transferred_status_by_shop"),
                           ("status_map", "states_by_shop"), ("stock", "per_channel")):
        rules.get(section, {}).pop(field, None)
    rules.pop("price_lists", None)
    rules.update(extra)
    return rules


def problems(rules: dict[str, Any]) -> str:
    with pytest.raises(RulesError) as info:
        parse_tenant("mix", rules)
    return str(info.value)


def test_an_existing_jetshop_tenant_reads_as_before_with_backend_jetshop() -> None:
    rules = parse_tenant("demo_combo", COMBO)
    assert [s.backend for s in rules.shops] == ["jetshop", "jetshop"]
    assert [s.conn_id for s in rules.shops] == ["jetshop_demo_se", "jetshop_demo_nordic"]
    first = rules.shops[0].channels[0]
    assert (first.order_channel_id, first.shop_price_list) == (1, "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686")


def test_one_tenant_mixes_a_jetshop_shop_and_a_norce_shop() -> None:
    rules = parse_tenant("mix", rules_with(COMBO["shops"][0], NORCE_SHOP))
    norce = rules.shops[1]
    assert (norce.backend, norce.conn_id) == ("norce", "norce_demo")
    assert (norce.channels[0].order_channel_id, norce.channels[0].shop_price_list) == (1244, "SEK-BASE")
    targets = {(t.shop, t.guid) for t in price_targets(rules)}
    assert ("norce", "SEK-BASE") in targets and ("se", "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686") in targets


def test_a_norce_shop_needs_its_connection_and_price_list_and_refuses_jetshop_fields() -> None:
    shop = copy.deepcopy(NORCE_SHOP)
    del shop["norce_conn_id"]
    shop["jetshop_conn_id"] = "jetshop_demo_se"
    shop["channels"][0]["price_list_guid"] = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
    del shop["channels"][0]["norce_price_list"]
    text = problems(rules_with(shop))
    assert "shops[0].norce_conn_id: required for a shop on backend 'norce'" in text
    assert "shops[0].jetshop_conn_id: not used by backend 'norce'; set norce_conn_id" in text
    assert "shops[0].channels[0].norce_price_list: required for a shop on backend 'norce'" in text
    assert "shops[0].channels[0].price_list_guid: not used by backend 'norce'" in text


def test_a_jetshop_shop_refuses_norce_fields_and_needs_its_guid() -> None:
    shop = copy.deepcopy(COMBO["shops"][0])
    shop["channels"][0]["norce_application_id"] = 7
    del shop["channels"][0]["price_list_guid"]
    text = problems(rules_with(shop))
    assert "shops[0].channels[0].price_list_guid: required for a shop on backend 'jetshop'" in text
    assert "shops[0].channels[0].norce_application_id: not used by backend 'jetshop'" in text


def test_an_unknown_backend_is_named() -> None:
    shop = {**copy.deepcopy(NORCE_SHOP), "backend": "shopify"}
    assert "shops[0].backend" in problems(rules_with(shop))


def test_customer_group_lists_must_match_the_channels_backend() -> None:
    group = {"customer_group": "resellers", "fortnox_price_list": "B",
             "norce_price_lists": {"se/se": "SEK-B2B"}, "jetshop_price_lists": {
                 "norce/se": "11111111-2222-3333-4444-555555555555"}}
    text = problems(rules_with(COMBO["shops"][0], NORCE_SHOP, price_lists=[group]))
    assert "price_lists[0].norce_price_lists.se/se: channel 'se/se' is on a jetshop shop; use jetshop_price_lists" in text
    assert "price_lists[0].jetshop_price_lists.norce/se: channel 'norce/se' is on a norce shop" in text


def test_a_customer_group_list_on_a_norce_channel_is_written_there() -> None:
    group = {"customer_group": "resellers", "fortnox_price_list": "B", "norce_price_lists": {"norce/se": "SEK-B2B"}}
    rules = parse_tenant("mix", rules_with(COMBO["shops"][0], NORCE_SHOP, price_lists=[group]))
    targets = [(t.shop, t.guid, t.fortnox_price_list, t.customer_group) for t in price_targets(rules)]
    assert ("norce", "SEK-B2B", "B", "resellers") in targets
    same_as_base = {**group, "norce_price_lists": {"norce/se": "SEK-BASE"}}
    assert "SEK-BASE is a channel's base price list" in problems(
        rules_with(COMBO["shops"][0], NORCE_SHOP, price_lists=[same_as_base]))


def test_a_customer_group_needs_some_shop_list() -> None:
    group = {"customer_group": "resellers", "fortnox_price_list": "B"}
    assert "price_lists[0].jetshop_price_lists: name at least one shop price list" in problems(
        rules_with(COMBO["shops"][0], price_lists=[group]))
