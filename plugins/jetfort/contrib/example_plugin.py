"""Example tenant plugin: the buyer's comment onto the printed document, gift-wrap rows onto an article.

Enable it in the tenant rules (plugins are a plan 800+ feature)::

    "plugins": [{"path": "jetfort.contrib.example_plugin",
                 "config": {"remarks_prefix": "Kundens kommentar: ",
                            "gift_wrap_article": "S002",
                            "gift_wrap_words": ["presentinslagning", "gift wrap"],
                            "gift_card_account": 2421}}]

* ``after_map_document``: the shop order's ``comment`` (jetfort keeps it in the internal
  ``Comments``) is also printed on the order/invoice, in ``Remarks``, after ``remarks_prefix``, cut
  to Fortnox's limit. ``"comment_to_remarks": false`` switches that off.
* ``map_row``: a shop row whose name contains one of ``gift_wrap_words`` (case-insensitive) and has
  no article number of its own is booked on the Fortnox article ``gift_wrap_article`` (e.g. a
  service article "Presentinslagning"), instead of an account row.
* ``map_row``: with ``gift_card_account`` set, gift-card rows are booked on that balance-sheet account
  (e.g. 2421 "Ej inlösta presentkort") instead of a sales account or article: a multi-purpose voucher
  is a debt to the holder until it is used, not revenue. jetfort itself already books a *redeemed*
  card on ``orders.accounts.gift_card`` (2421 by default); the plugin also moves card *purchases*.

Plugins get copies of jetfort's models and return changed ones (``model_copy(update=...)``);
jetfort validates what they return and runs the total check afterwards.
"""

from __future__ import annotations

from typing import Any

from jetfort.fortnox.models import DocumentRow, FortnoxInvoice, FortnoxOrder, max_length
from jetfort.mapping.text import clean, cut
from jetfort.rules import TenantRules
from jetfort.shop.models import OrderRow, RowType, ShopOrder

DEFAULT_PREFIX = "Kundens kommentar: "
DEFAULT_WORDS = ("presentinslagning", "gift wrap", "gift-wrap")


def after_map_document(document: FortnoxOrder | FortnoxInvoice, order: ShopOrder, rules: TenantRules,
                       config: dict[str, Any]) -> FortnoxOrder | FortnoxInvoice | None:
    """Print the buyer's comment in ``Remarks`` (kept after any remarks already there)."""
    if not config.get("comment_to_remarks", True):
        return None
    comment = clean(order.comment)
    if not comment:
        return None
    text = f"{config.get('remarks_prefix', DEFAULT_PREFIX)}{comment}"
    if document.remarks:
        text = f"{document.remarks}\n{text}"
    return document.model_copy(update={"remarks": cut(text, max_length(type(document), "remarks"))})


def map_row(row: DocumentRow, shop_row: OrderRow, order: ShopOrder, rules: TenantRules,
            config: dict[str, Any]) -> DocumentRow | None:
    """Gift cards → the liability account; gift-wrap rows without an article number → the article."""
    gift_card_account = config.get("gift_card_account")
    if gift_card_account and shop_row.row_type == RowType.GIFT_CARD:
        return row.model_copy(update={"article_number": None, "account_number": int(gift_card_account)})
    article = config.get("gift_wrap_article")
    if not article or shop_row.article_number:
        return None
    words = [w.casefold() for w in config.get("gift_wrap_words", DEFAULT_WORDS)]
    name = shop_row.name.casefold()
    if not any(word in name for word in words):
        return None
    return row.model_copy(update={"article_number": str(article), "account_number": None})
