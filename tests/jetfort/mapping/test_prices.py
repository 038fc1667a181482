"""Prices: targets per channel and customer group, incl./ex VAT, currency, quantity breaks."""

from __future__ import annotations

from decimal import Decimal

from jetfort.mapping.prices import (
    PriceTarget,
    cells,
    jetshop_price,
    price_cell_key,
    price_targets,
    split_breaks,
    to_price_list_price,
)
from jetfort.rules import parse_tenant

PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
PL_FI = "9D04E5F7-3C1A-4B0E-A2D8-77C1E0B4F3A2"
PL_B2B = "F2585A2D-452F-45EB-9CB1-9080134CE0C9"


def test_targets_are_channel_base_lists_then_customer_groups() -> None:
    rules = parse_tenant("t", {
        "flow": "erp", "fortnox_conn_id": "fx",
        "shops": [{"key": "se", "jetshop_conn_id": "a", "channels": [
            {"key": "se", "culture": "sv-SE", "currency": "SEK", "price_list_guid": PL_SE.lower()},
            {"key": "fi", "culture": "fi-FI", "currency": "EUR", "price_list_guid": PL_FI,
             "fortnox_price_list": "EUR"}]}],
        "price_lists": [{"customer_group": "resellers", "fortnox_price_list": "B", "prices_include_vat": False,
                         "jetshop_price_lists": {"se/se": PL_B2B}}],
    })
    targets = price_targets(rules)
    assert [(t.guid, t.fortnox_price_list, t.prices_include_vat, t.currency, t.label) for t in targets] == [
        (PL_SE, "A", True, "SEK", "base"), (PL_FI, "EUR", True, "EUR", "base"),
        (PL_B2B, "B", False, "SEK", "resellers")]


def test_jetshop_stores_incl_vat_so_ex_vat_lists_are_grossed_up_and_currencies_converted() -> None:
    assert jetshop_price(Decimal("249"), vat_percent=Decimal(25), includes_vat=True) == Decimal("249.00")
    assert jetshop_price(Decimal("199.20"), vat_percent=Decimal(25), includes_vat=False) == Decimal("249.00")
    assert jetshop_price(Decimal("100"), vat_percent=Decimal(12), includes_vat=False) == Decimal("112.00")
    assert jetshop_price(Decimal("249"), vat_percent=Decimal(25), includes_vat=True,
                         currency_rate=Decimal("11.45")) == Decimal("21.75")
    assert jetshop_price(Decimal("0.005"), vat_percent=Decimal(0), includes_vat=True) == Decimal("0.01")  # half up


def test_quantity_breaks_are_counted_not_written_and_articles_without_vat_wait() -> None:
    rows = {("1001", Decimal(0)): Decimal("100"), ("1001", Decimal(10)): Decimal("90"),
            ("1002", Decimal(0)): Decimal("50")}
    base, breaks = split_breaks(rows)
    assert base == {"1001": Decimal("100"), "1002": Decimal("50")} and breaks == 1
    target = PriceTarget("se", "se", PL_B2B, "B", False, "SEK", "resellers")
    assert dict(cells(target, base, {"1001": Decimal(25)})) == {"1001": Decimal("125.00")}
    write = to_price_list_price("1001", PL_B2B, Decimal("125.00"))
    assert write.discounted_price_inc_vat is None  # → the -1 "no discount" sentinel on the wire
    assert price_cell_key("1001", PL_B2B.lower()) == f"1001@{PL_B2B}"
