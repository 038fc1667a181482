"""Catalog flows end to end through Airflow (dag.test) against both sandboxes.

Outcomes and write counts are read from the sandboxes' own state and request logs (Fortnox
``request_log``, Jetshop ``calls``), never from jetfort's view of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_WINDOW
from tests.harness import load_dag, task_states

PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
PL_B2B = "F2585A2D-452F-45EB-9CB1-9080134CE0C9"
PL_NORDIC_SE = None  # looked up from the sandbox
JETSHOP_WRITES = {"Product_AddUpdate", "PriceList_UpdateArticleIncVAT", "Product_Delete",
                  "ProductDynamicField_SaveProductDynamicFieldData"}


class Sides:
    """What the two sandboxes hold and how many writes they received."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._marks = (0, 0)

    @property
    def company(self) -> Any:
        return self.env.fortnox.company(self.env.env.fortnox_tenant_id)

    def fortnox_writes_total(self) -> int:
        return sum(1 for e in list(self.env.fortnox.request_log)
                   if e.get("method") != "GET" and str(e.get("path", "")).startswith(("/3", "/api")))

    def jetshop_writes_total(self) -> int:
        return sum(1 for c in list(self.env.jetshop.calls) if c["operation"] in JETSHOP_WRITES)

    def mark(self) -> None:
        self._marks = (self.fortnox_writes_total(), self.jetshop_writes_total())

    def writes_since_mark(self) -> tuple[int, int]:
        return self.fortnox_writes_total() - self._marks[0], self.jetshop_writes_total() - self._marks[1]

    def article(self, number: str) -> dict[str, Any] | None:
        with self.company.lock:
            found = self.company.get("articles", number)
            return dict(found) if found else None

    def fortnox_price(self, price_list: str, number: str, quantity: int = 0) -> Decimal | None:
        from sandbox.fortnox.seed import price_key

        with self.company.lock:
            row = self.company.get("prices", price_key(price_list, number, quantity))
            return Decimal(str(row["Price"])) if row else None

    def set_fortnox_price(self, price_list: str, number: str, price: float) -> None:
        from sandbox.fortnox.seed import price_key, refresh_article_stock

        with self.company.lock:
            key = price_key(price_list, number, 0)
            row = dict(self.company.get("prices", key) or {})
            row["Price"] = price
            self.company.put("prices", key, row)
            refresh_article_stock(self.company, only=number)
            self.company.put("articles", number, self.company.data["articles"][number])

    def set_fortnox_stock(self, number: str, in_stock: float, point: str = "LAGER1") -> None:
        from sandbox.fortnox.seed import refresh_article_stock

        with self.company.lock:
            self.company.stock[(number, point)] = [float(in_stock), 0.0]
            article = self.company.data["articles"][number]
            article["StockGoods"] = True
            refresh_article_stock(self.company, only=number)
            self.company.put("articles", number, article)

    def set_fortnox_description(self, number: str, text: str) -> None:
        with self.company.lock:
            article = dict(self.company.data["articles"][number])
            article["Description"] = text
            self.company.put("articles", number, article)

    def fortnox_webshop_articles(self) -> list[str]:
        with self.company.lock:
            return sorted(n for n, a in self.company.data["articles"].items()
                          if a.get("WebshopArticle") and a.get("Active", True))

    def shop_product(self, shop_id: str, number: str) -> dict[str, Any] | None:
        return self.env.jetshop.product(shop_id, number)

    def shop_price(self, shop_id: str, number: str, guid: str) -> Decimal | None:
        entry = self.env.jetshop.price(shop_id, number, guid)
        return Decimal(str(entry["PriceIncVat"])) if entry and "PriceIncVat" in entry else None

    def shop_stock(self, shop_id: str, number: str) -> tuple[int, int]:
        product = self.shop_product(shop_id, number)
        assert product is not None, number
        return int(product["stock"]["NewStockCount"]), int(product["stock"]["StockStatusId"])


@pytest.fixture
def catalog_env(sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sync_env.fortnox.limiter.configure(25, FAST_WINDOW)
    sync_env.set_rate_window(monkeypatch, FAST_WINDOW)
    sync_env.sides = Sides(sync_env)
    yield sync_env


def run(dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    dag_run = load_dag(dag_id).test(run_conf=conf)
    states = task_states(dag_run)
    assert all(s == "success" for s in states.values()), states
    return dag_run


def summary(dag_run: Any, task_id: str = "summary") -> dict[str, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="summary")
    with create_session() as session:
        row = session.scalars(query).first()
        rows = list(XComModel.deserialize_value(row)) if row is not None else []
    return {r["entity"]: r for r in rows}


def gross(price: Decimal, vat: int) -> Decimal:
    return (price * (1 + Decimal(vat) / 100)).quantize(Decimal("0.01"))


# ------------------------------------------------------------------------------------ erp
def test_erp_products_prices_price_lists_and_stock_go_to_the_shop_and_a_rerun_writes_nothing(
        catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    first = summary(run("jetfort__demo_erp__catalog"))
    assert first["products → shop"]["written"] > 0

    # products: Fortnox-only web-shop articles now exist in the shop, named from Fortnox
    fortnox_only = [n for n in sides.fortnox_webshop_articles() if sides.shop_product("demoshop", n) is None]
    assert fortnox_only == []
    article = sides.article("1009")
    assert article is not None
    product = sides.shop_product("demoshop", "1009")
    assert product is not None
    assert product["cultures"]["sv-SE"]["Name"] == article["Description"][:50]
    assert product["global"]["Vat"] == Decimal(article["VAT"]) / 100

    # base price list (channel, incl. VAT in Fortnox list A) and the resellers' list (list B, ex VAT)
    for number in ("1001", "1009", "1011"):
        vat = int(sides.article(number)["VAT"])  # type: ignore[index]
        base, reseller = sides.fortnox_price("A", number), sides.fortnox_price("B", number)
        assert base is not None and reseller is not None
        assert sides.shop_price("demoshop", number, PL_SE) == base.quantize(Decimal("0.01"))
        assert sides.shop_price("demoshop", number, PL_B2B) == gross(reseller, vat)

    # stock and stock status by the tenant's thresholds (low ≤ 3, out ≤ 0; ids 1 in, 2 out)
    sides.set_fortnox_stock("1001", 0)
    sides.set_fortnox_stock("1009", 2)
    sides.set_fortnox_stock("1011", 40)
    run("jetfort__demo_erp__catalog")
    assert sides.shop_stock("demoshop", "1001") == (0, 2)
    assert sides.shop_stock("demoshop", "1009") == (2, 1)  # no low-stock status configured: in stock
    assert sides.shop_stock("demoshop", "1011") == (40, 1)
    # a service article sold in the shop gets no stock figure from Fortnox
    assert sides.shop_product("demoshop", "S001") is not None
    assert "S001" not in catalog_env.ledger().snapshot("demo_erp", "shop", "stock:se")

    # no echo loop: a run with no change writes nothing to either side
    sides.mark()
    again = summary(run("jetfort__demo_erp__catalog"))
    assert sides.writes_since_mark() == (0, 0)
    assert all(row["written"] == 0 for row in again.values()), again

    # one change per entity → exactly those writes
    sides.set_fortnox_price("A", "1001", 333.0)
    sides.set_fortnox_description("1009", "Ny beskrivning")
    sides.set_fortnox_stock("1011", 1)
    sides.mark()
    third = summary(run("jetfort__demo_erp__catalog"))
    assert third["products → shop"]["written"] == 1
    assert third["prices → shop"]["written"] == 1
    assert third["stock → shop"]["written"] == 1
    assert sides.shop_price("demoshop", "1001", PL_SE) == Decimal("333.00")
    assert sides.shop_product("demoshop", "1009")["cultures"]["sv-SE"]["Name"] == "Ny beskrivning"  # type: ignore[index]
    assert sides.shop_stock("demoshop", "1011") == (1, 1)
    assert sides.writes_since_mark() == (0, 3)  # one upsert, one price call, one stock call


# ------------------------------------------------------------------------------------ ecom
def test_ecom_products_go_to_fortnox_variants_flat_bad_numbers_quarantined(catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    catalog_env.jetshop.seed_articles("demoshop", [
        {"article_number": "2001", "name": "Regnjacka", "vat": "0.25", "stock": 3},
        {"article_number": "BAD NUMBER", "name": "Felaktigt nummer", "vat": "0.25"},
        {"article_number": "2002", "name": "Kaffebryggare", "vat": "0.12"},
        {"article_number": "2003", "name": "Spik", "vat": "0.25"},
    ])
    with catalog_env.jetshop.lock:  # a unit Fortnox's unit register does not have: Fortnox refuses it
        catalog_env.jetshop.shop("demoshop").products["2003"]["global"]["QuantitySuffix"] = "lådor"
    first = summary(run("jetfort__demo_ecom__catalog"))
    row = first["products → Fortnox"]
    assert row["quarantined"] == 2 and row["written"] >= 3

    created = sides.article("2001")
    assert created is not None and created["Description"] == "Regnjacka"
    assert created["WebshopArticle"] is True and created["StockGoods"] is True
    assert int(sides.article("2002")["VAT"]) == 12  # type: ignore[index]
    # the variant is its own article, named from the parent and the variant value
    assert sides.article("1003")["Description"] == "Huvtröja - S"  # type: ignore[index]
    assert sides.article("BAD NUMBER") is None and sides.article("2003") is None

    entries = {e.source_key: e for e in catalog_env.ledger().open_quarantine("demo_ecom", "article")}
    assert sorted(entries) == ["2003", "BAD NUMBER"]
    assert entries["BAD NUMBER"].reason == "invalid_article_number" and "characters" in entries["BAD NUMBER"].message
    assert entries["2003"].reason == "rejected_by_fortnox" and entries["2003"].code

    sides.mark()
    again = summary(run("jetfort__demo_ecom__catalog"))
    assert sides.writes_since_mark() == (0, 0)
    assert again["products → Fortnox"]["written"] == 0

    # the shop fixes the unit: the article goes across and its quarantine entry is closed
    with catalog_env.jetshop.lock:
        shop = catalog_env.jetshop.shop("demoshop")
        shop.products["2003"]["global"]["QuantitySuffix"] = "st"
        shop.products["2003"]["global"]["ModifiedDate"] = catalog_env.jetshop.now(shop)
    fixed = summary(run("jetfort__demo_ecom__catalog"))["products → Fortnox"]
    assert fixed["written"] == 1 and sides.article("2003")["Unit"] == "st"  # type: ignore[index]
    assert [e.source_key for e in catalog_env.ledger().open_quarantine("demo_ecom", "article")] == ["BAD NUMBER"]


# ------------------------------------------------------------------------------------ combo
def test_combo_products_to_fortnox_prices_and_stock_status_to_both_shops(catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    catalog_env.jetshop.seed_articles("demoshop", [{"article_number": "3001", "name": "Pannlampa", "vat": "0.25"}])
    sides.set_fortnox_stock("1001", 4)   # se: low ≤ 5 → no low status → in stock; fi: out ≤ 2, so in stock
    sides.set_fortnox_stock("1011", 2)   # se: in stock (2 > 0); fi: out of stock (≤ 2)
    sides.set_fortnox_stock("1016", 0)   # out of stock in both
    first = summary(run("jetfort__demo_combo__catalog"))
    assert first["products → Fortnox"]["written"] > 0
    assert sides.article("3001") is not None  # shop product → Fortnox
    # prices: Fortnox list A base price → both shops' base lists (the Finnish one in EUR)
    rate = Decimal(str(sides.company.get("currencies", "EUR")["SellRate"]))
    base = sides.fortnox_price("A", "1001")
    assert base is not None
    nordic = catalog_env.jetshop.shop("nordicshop")
    fi_guid = next(c["PriceListId"] for c in nordic.channels if c["CurrencyCode"] == "EUR")
    assert sides.shop_price("demoshop", "1001", PL_SE) == base.quantize(Decimal("0.01"))
    assert sides.shop_price("nordicshop", "1001", fi_guid) == (base / rate).quantize(Decimal("0.01"))
    # stock from the warehouse stock point, status per shop's thresholds
    assert sides.shop_stock("demoshop", "1001") == (4, 1)
    assert sides.shop_stock("demoshop", "1011") == (2, 1)
    assert sides.shop_stock("demoshop", "1016") == (0, 2)
    assert sides.shop_stock("nordicshop", "1011") == (2, 2)
    assert sides.shop_stock("nordicshop", "1016") == (0, 2)

    sides.mark()
    run("jetfort__demo_combo__catalog")
    assert sides.writes_since_mark() == (0, 0)


# ------------------------------------------------------------------------------------ initial sync
def test_initial_sync_both_directions_is_safe_to_run_twice(catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    sides.mark()
    dry = summary(run("jetfort__demo_ecom__catalog_initial", {"direction": "shop_to_fortnox", "dry_run": True}),
                  "initial_sync")["initial products → Fortnox"]
    assert dry["created"] > 0 and sides.article("GIFT-500") is None
    assert sides.writes_since_mark() == (0, 0)  # the dry run wrote nothing

    to_fortnox = summary(run("jetfort__demo_ecom__catalog_initial", {"direction": "shop_to_fortnox"}),
                         "initial_sync")["initial products → Fortnox"]
    assert to_fortnox["created"] + to_fortnox["updated"] > 0
    assert to_fortnox["created"] == dry["created"] and to_fortnox["updated"] == dry["updated"]
    assert sides.article("GIFT-500") is not None
    sides.mark()
    again = summary(run("jetfort__demo_ecom__catalog_initial", {"direction": "shop_to_fortnox"}),
                    "initial_sync")["initial products → Fortnox"]
    assert (again["created"], again["updated"]) == (0, 0) and again["skipped"] == to_fortnox["read"]
    assert sides.writes_since_mark() == (0, 0)

    to_shop = summary(run("jetfort__demo_erp__catalog_initial", {"direction": "fortnox_to_shop",
                                                                  "article_filter": ["10*"]}),
                      "initial_sync")["initial products → shop"]
    assert to_shop["created"] > 0
    assert sides.shop_product("demoshop", "1019") is not None
    assert sides.shop_product("demoshop", "S001") is None  # outside the run's article filter
    sides.mark()
    second = summary(run("jetfort__demo_erp__catalog_initial", {"direction": "fortnox_to_shop",
                                                                "article_filter": ["10*"]}),
                     "initial_sync")["initial products → shop"]
    assert (second["created"], second["updated"]) == (0, 0)
    assert sides.writes_since_mark() == (0, 0)


# ------------------------------------------------------------------------------------ drift
def test_drift_report_finds_and_corrects_stock_and_missing_products(catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    run("jetfort__demo_erp__catalog")
    # someone edits the shop by hand: wrong stock on one article, one product deleted
    with catalog_env.jetshop.lock:
        catalog_env.jetshop.shop("demoshop").products["1001"]["stock"]["NewStockCount"] = 999
        del catalog_env.jetshop.shop("demoshop").products["1009"]
    rules = catalog_env.tenant_rules("demo_erp")
    rules.setdefault("catalog", {})["correct_drift"] = True
    catalog_env.set_tenant("demo_erp", rules)

    dag_run = run("jetfort__demo_erp__drift")
    rows = summary(dag_run, "drift_report")
    assert rows["drift products"]["changed"] >= 1 and rows["drift stock"]["changed"] >= 1
    import os

    reports = Path(os.environ["AIRFLOW_HOME"]) / "jetfort" / "reports" / "demo_erp"
    csv = reports / f"{_safe(dag_run.run_id)}.csv"
    png = reports / f"{_safe(dag_run.run_id)}.png"
    assert csv.exists() and png.exists() and png.stat().st_size > 1000
    text = csv.read_text()
    assert "missing_in_shop" in text and "1009" in text and "stock" in text

    quantity = int(Decimal(str(sides.article("1001")["DisposableQuantity"])))  # type: ignore[index]
    assert sides.shop_stock("demoshop", "1001")[0] == quantity
    assert sides.shop_product("demoshop", "1009") is not None
    sides.mark()
    second = run("jetfort__demo_erp__drift")
    after = summary(second, "drift_report")
    assert after["drift stock"]["changed"] == 0
    remaining = (reports / f"{_safe(second.run_id)}.csv").read_text()
    assert "missing_in_shop" not in remaining  # the shop-only gift card stays reported: erp cannot create it
    assert sides.writes_since_mark() == (0, 0)


def test_drift_report_says_what_each_correction_did_and_corrects_a_price(catalog_env: Any) -> None:
    sides: Sides = catalog_env.sides
    run("jetfort__demo_erp__catalog")
    # Fortnox changes a price with no catalog run since; someone edits a shop's stock by hand
    sides.set_fortnox_price("A", "1011", 444.0)
    with catalog_env.jetshop.lock:
        catalog_env.jetshop.shop("demoshop").products["1001"]["stock"]["NewStockCount"] = 999
    rules = catalog_env.tenant_rules("demo_erp")
    rules.setdefault("catalog", {})["correct_drift"] = True
    catalog_env.set_tenant("demo_erp", rules)

    dag_run = run("jetfort__demo_erp__drift")
    import csv
    import os

    report = Path(os.environ["AIRFLOW_HOME"]) / "jetfort" / "reports" / "demo_erp" / f"{_safe(dag_run.run_id)}.csv"
    with report.open(newline="") as handle:
        actions = {(r["kind"], r["article"]): r["action"] for r in csv.DictReader(handle)}
    assert actions[("price", "1011")] == "price written"
    assert actions[("stock", "1001")] == "stock written"
    # erp cannot create a shop-only product in Fortnox: such rows are reported, nothing else
    shop_only = [a for (kind, _), a in actions.items() if kind == "missing_in_fortnox"]
    assert shop_only and set(shop_only) == {"reported"}
    assert sides.shop_price("demoshop", "1011", PL_SE) == Decimal("444.00")  # list A holds prices incl. VAT
    quantity = int(Decimal(str(sides.article("1001")["DisposableQuantity"])))  # type: ignore[index]
    assert sides.shop_stock("demoshop", "1001")[0] == quantity


def _safe(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def test_catalog_dag_logs_its_summary_table(catalog_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run("jetfort__demo_ecom__catalog")
    out = capsys.readouterr().out
    assert "entity" in out and "echo_suppressed" in out and "products → Fortnox" in out


_ = dt  # keep the import for helpers that take times


def test_what_jetfort_wrote_to_the_shop_is_not_echoed_back_to_fortnox(catalog_env: Any) -> None:
    """combo: an initial Fortnox → shop sync, then the scheduled shop → Fortnox product sync reads those
    products back: they are recognised as jetfort's own writes (echo) and not sent to Fortnox again."""
    sides: Sides = catalog_env.sides
    run("jetfort__demo_combo__catalog_initial", {"direction": "fortnox_to_shop", "article_filter": ["10*"]})
    description = sides.article("1001")["Description"]  # type: ignore[index]
    sides.mark()
    rows = summary(run("jetfort__demo_combo__catalog"))["products → Fortnox"]
    assert rows["echo_suppressed"] >= 10
    put_paths = [e["path"] for e in list(catalog_env.fortnox.request_log)
                 if e.get("method") in ("PUT", "POST") and str(e.get("path", "")).startswith("/3/articles")]
    assert "/3/articles/1001" not in put_paths and sides.article("1001")["Description"] == description  # type: ignore[index]
