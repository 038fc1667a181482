"""The end-to-end harness itself: a hook built from the fed connections reaches each sandbox."""

from __future__ import annotations

from typing import Any

from jetfort.tasks.runtime import TenantRuntime


def test_tenant_runtime_talks_to_both_sandboxes(sync_env: Any) -> None:
    with TenantRuntime.for_tenant("demo_combo") as runtime:
        info = runtime.fortnox.company_information()
        assert info is not None
        shops = {shop.key: runtime.jetshop(shop.key).shop_id for shop in runtime.rules.shops}
        assert sorted(shops.values()) == ["demoshop", "nordicshop"]
        for key in shops:
            assert runtime.jetshop(key).get_statuses()
    token = runtime.ledger.get_cursor("demo_combo", "nothing")
    assert token is None
