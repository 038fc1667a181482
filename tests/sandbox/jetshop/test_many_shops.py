"""One Jetshop sandbox serves many merchants: ``POST /_sandbox/shops`` opens another shop with its
own ShopId and login, set up like a seeded shop, and the service keeps the merchants apart."""

from __future__ import annotations

import requests

from sandbox.jetshop.state import JetshopSandbox
from tests.sandbox.jetshop.wire import post, product_get, text, xml

MERCHANT = {"shop_id": "merchant-7", "login": "jetfort-m7", "password": "m7-secret"}


def open_shop(base_url: str, **body: str) -> requests.Response:
    return requests.post(f"{base_url}/_sandbox/shops", json=body, timeout=10)


def test_a_new_merchant_shop_has_its_own_login_and_the_seeded_catalog(base_url: str, url: str,
                                                                      sb: JetshopSandbox) -> None:
    made = open_shop(base_url, **MERCHANT)
    assert made.status_code == 201, made.text
    listed = {s["shop_id"]: s for s in requests.get(f"{base_url}/_sandbox/shops", timeout=10).json()}
    assert listed["merchant-7"]["login"] == "jetfort-m7"
    assert listed["merchant-7"]["channels"] == listed["demoshop"]["channels"]

    with requests.Session() as merchant:
        merchant.auth = ("jetfort-m7", "m7-secret")
        got = post(merchant, url, product_get("1001"), shop_id="merchant-7")
        assert got.status_code == 200, got.text
        assert text(xml(got), "ArticleNumber") == "1001"
        # its login opens its own shop only
        assert post(merchant, url, product_get("1001"), shop_id="demoshop").status_code == 401
    with requests.Session() as demo:
        demo.auth = ("jetfort-demo", "demo-secret")
        assert post(demo, url, product_get("1001"), shop_id="merchant-7").status_code == 401

    # no orders of its own until placed; orders placed there stay there
    assert requests.get(f"{base_url}/_sandbox/shops/merchant-7/orders", timeout=10).json() == []
    demo_orders = len(sb.orders("demoshop"))
    generated = requests.post(f"{base_url}/_sandbox/shops/merchant-7/orders/generate",
                              json={"count": 2, "seed": 3}, timeout=10)
    assert generated.status_code == 200, generated.text
    assert len(sb.orders("merchant-7")) == 2
    assert len(sb.orders("demoshop")) == demo_orders


def test_taken_ids_and_logins_and_missing_fields_are_refused(base_url: str, sb: JetshopSandbox) -> None:
    assert open_shop(base_url, **MERCHANT).status_code == 201
    again = open_shop(base_url, **MERCHANT)
    assert again.status_code == 409 and "merchant-7" in again.text
    same_login = open_shop(base_url, shop_id="merchant-8", login="jetfort-m7", password="x")
    assert same_login.status_code == 409 and "jetfort-m7" in same_login.text
    seeded_login = open_shop(base_url, shop_id="merchant-9", login="jetfort-demo", password="x")
    assert seeded_login.status_code == 409
    missing = open_shop(base_url, shop_id="merchant-10", login="jetfort-m10")
    assert missing.status_code == 400 and "password" in missing.text
    unknown = open_shop(base_url, shop_id="merchant-11", login="jetfort-m11", password="x", like="nosuchshop")
    assert unknown.status_code == 400 and "nosuchshop" in unknown.text
    assert set(sb.shops) == {"demoshop", "nordicshop", "merchant-7"}


def test_a_copy_of_the_nordic_shop_has_its_statuses_and_reset_drops_added_shops(base_url: str,
                                                                                sb: JetshopSandbox) -> None:
    made = open_shop(base_url, shop_id="merchant-fi", login="jetfort-mfi", password="s", like="nordicshop")
    assert made.status_code == 201, made.text
    statuses = requests.get(f"{base_url}/_sandbox/shops/merchant-fi/statuses", timeout=10).json()
    assert [s["id"] for s in statuses] == [10, 20, 30, 40, 50]
    sb.reset(1)
    assert set(sb.shops) == {"demoshop", "nordicshop"}
