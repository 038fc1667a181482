"""The catalog flows on a Norce shop through the real catalog DAG (``dag.test()``), beside the order
tests of ``test_norce_orders.py``: ``erp`` with a customer-group price list, ``combo`` with a Jetshop and
a Norce shop feeding one Fortnox company, ``ecom`` with Norce as the master of products.

Outcomes are read from the sandboxes' own state: Norce's catalog (``NorceCatalog``) and Fortnox's
articles and price lists.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.fortnox.seed import price_key
from tests.harness import run_dag, task_states

SEK_B2B = "SEK-B2B"


def run_catalog(tenant: str) -> Any:
    dag_run = run_dag(f"jetfort__{tenant}__catalog")
    assert str(dag_run.state) == "success", task_states(dag_run)
    return dag_run


def fortnox_price(env: Any, price_list: str, number: str) -> Decimal | None:
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        row = company.data["prices"].get(price_key(price_list, number, 0))
        return None if row is None else Decimal(str(row["Price"]))


def vat_percent(env: Any, number: str) -> Decimal:
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        return Decimal(str(company.data["articles"][number]["VAT"]))


def written_in_norce(env: Any, tenant: str) -> set[str]:
    return {k for k in env.ledger().snapshot(tenant, "shop", "product:norce")}


def test_erp_writes_a_customer_groups_price_list_into_norce_ex_vat(orders_env: Any) -> None:
    env = orders_env
    catalog = env.norce.catalog
    with catalog.lock:  # the B2B list exists in Norce (lists are made in Norce Admin)
        catalog.new_price_list(SEK_B2B, dt.datetime.now(dt.UTC))
    rules = env.tenant_rules("demo_norce")
    rules["price_lists"] = [{"customer_group": "resellers", "fortnox_price_list": "B", "prices_include_vat": False,
                             "norce_price_lists": {"norce/se": SEK_B2B}}]
    env.set_tenant("norce_b2b", rules)
    run_catalog("norce_b2b")
    articles = written_in_norce(env, "norce_b2b")
    assert articles
    checked = 0
    for number in sorted(articles):
        b2b = fortnox_price(env, "B", number)  # Fortnox list B holds reseller prices ex VAT
        if b2b is None:
            assert catalog.price(number, SEK_B2B) is None
            continue
        # Norce keeps ex-VAT prices to 4 decimals; jetfort's price incl. VAT is whole öre, so the reseller's
        # price comes back within half an öre of Fortnox's
        sale = Decimal(str(catalog.price(number, SEK_B2B)["PriceSale"]))
        assert abs(sale - b2b) <= Decimal("0.005"), number
        base = fortnox_price(env, "A", number)  # list A holds consumer prices incl. VAT
        assert base is not None
        expected = (base / (1 + vat_percent(env, number) / 100)).quantize(Decimal("0.0001"))
        assert abs(Decimal(str(catalog.price(number, "SEK-BASE")["PriceSale"])) - expected) <= Decimal("0.0001")
        checked += 1
    assert checked >= 5


def test_combo_takes_products_from_both_shops_and_writes_prices_and_stock_to_both(orders_env: Any) -> None:
    env = orders_env
    catalog = env.norce.catalog
    now = dt.datetime.now(dt.UTC)
    with catalog.lock:  # a product that only the Norce shop sells
        product = catalog.new_product("ACME", "NC-9001", now)
        product["Cultures"]["sv-SE"] = {"Name": "Norce-jacka"}
        sku = catalog.new_sku("NC-9001", product["Id"], now)
        sku.update(Status=1, EanCode="7350000900017", VatRates=[{"SalesArea": 1, "Rate": Decimal(25)}])
        sku["Cultures"]["sv-SE"] = {"ErpName": "Norce-jacka", "Comment": None}
        catalog.new_price("NC-9001", "SEK-BASE", 1, now).update(PriceSale=Decimal("796.00"), IsActive=True)
    run_catalog("demo_mixed")
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        article = dict(company.data["articles"]["NC-9001"])
    assert (article["Description"], str(article["EAN"]), Decimal(str(article["VAT"]))) == (
        "Norce-jacka", "7350000900017", Decimal(25))
    in_norce = written_in_norce(env, "demo_mixed")
    stock_written = env.ledger().snapshot("demo_mixed", "shop", "stock:norce")
    assert stock_written and set(stock_written) <= in_norce | {"NC-9001"}
    for number in stock_written:
        assert catalog.onhand(number) is not None
    assert env.ledger().snapshot("demo_mixed", "shop", "stock:se")  # the Jetshop shop got stock too
    assert env.ledger().open_quarantine("demo_mixed") == []


def test_ecom_takes_new_norce_products_into_fortnox(orders_env: Any) -> None:
    env = orders_env
    catalog = env.norce.catalog
    rules = copy.deepcopy(env.tenant_rules("demo_norce"))
    rules["flow"] = "ecom"
    for key in ("status_map", "stock", "price_lists"):
        rules.pop(key, None)
    env.set_tenant("norce_ecom", rules)
    now = dt.datetime.now(dt.UTC)
    with catalog.lock:
        product = catalog.new_product("ACME", "NC-9002", now)
        product["Cultures"]["sv-SE"] = {"Name": "Norce-mössa"}
        sku = catalog.new_sku("NC-9002", product["Id"], now)
        sku.update(Status=1, VatRates=[{"SalesArea": 1, "Rate": Decimal(25)}])
        sku["Cultures"]["sv-SE"] = {"ErpName": "Norce-mössa", "Comment": None}
    run_catalog("norce_ecom")
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        article = dict(company.data["articles"]["NC-9002"])
    assert article["Description"] == "Norce-mössa" and Decimal(str(article["VAT"])) == Decimal(25)
    dag = run_catalog("norce_ecom")  # nothing changed in Norce: nothing written again
    assert "NC-9002" in {a for a in company.data["articles"]}
    assert str(dag.state) == "success"
