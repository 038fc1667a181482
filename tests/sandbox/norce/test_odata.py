"""The OData engine on hand-made rows: operators, precedence, nulls, datetimes, ordering and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.norce.odata import ODataError, ODataQuery

ROWS: list[dict[str, Any]] = [
    {"Id": 1, "Name": "O'Brien", "Amount": 10.5, "Updated": None, "Created": "2025-06-10T08:00:00Z", "Items": []},
    {"Id": 2, "Name": "Berg", "Amount": 20.0, "Updated": "2025-06-11T09:30:00Z", "Created": "2025-06-09T08:00:00Z",
     "Items": [{"PartNo": "A"}]},
    {"Id": 3, "Name": "Ek", "Amount": 7.25, "Updated": "2025-06-12T00:00:00Z", "Created": "2025-06-12T00:00:00Z",
     "Items": []},
]


def ids(params: dict[str, str], rows: list[dict[str, Any]] = ROWS) -> list[int]:
    body = ODataQuery.parse(params).apply(rows, "ctx", "http://x/Orders/Orders")
    return [r["Id"] for r in body["value"]]


@pytest.mark.parametrize(("flt", "expected"), [
    ("Id eq 2", [2]),
    ("Id ne 2", [1, 3]),
    ("Amount gt 10.5", [2]),
    ("Amount ge 10.5", [1, 2]),
    ("Amount lt 10.5", [3]),
    ("Amount le 7.25", [3]),
    ("Name eq 'O''Brien'", [1]),
    ("Updated eq null", [1]),
    ("Updated ne null", [2, 3]),
    ("Updated gt 2025-06-11T00:00:00Z", [2, 3]),
    ("Updated ge 2025-06-11T11:30:00+02:00", [2, 3]),
    ("Id eq 1 or Id eq 2 and Id eq 3", [1]),  # and binds tighter than or
    ("(Id eq 1 or Id eq 2) and Id eq 2", [2]),
    ("Updated ge 2025-06-11T00:00:00Z or (Updated eq null and Created ge 2025-06-10T00:00:00Z)", [1, 2, 3]),
    ("not (Id eq 2)", [1, 3]),
])
def test_filter(flt: str, expected: list[int]) -> None:
    assert ids({"$filter": flt}) == expected


def test_orderby_puts_nulls_first_ascending_and_last_descending() -> None:
    assert ids({"$orderby": "Updated"}) == [1, 2, 3]
    assert ids({"$orderby": "Updated desc"}) == [3, 2, 1]
    assert ids({"$orderby": "Name desc"}) == [1, 3, 2]


def test_skip_top_and_navigation_stripping() -> None:
    body = ODataQuery.parse({"$skip": "1", "$top": "1"}).apply(ROWS, "ctx", "http://x/O")
    assert body["value"] == [{"Id": 2, "Name": "Berg", "Amount": 20.0, "Updated": "2025-06-11T09:30:00Z",
                              "Created": "2025-06-09T08:00:00Z"}]
    assert "@odata.nextLink" not in body


def test_next_link_appears_only_beyond_a_full_page_without_top() -> None:
    rows = [{"Id": i} for i in range(1, 1202)]
    body = ODataQuery.parse({"$filter": "Id gt 100"}).apply(rows, "ctx", "http://x/O")
    assert len(body["value"]) == 500
    assert body["@odata.nextLink"] == "http://x/O?$filter=Id%20gt%20100&$skip=500"


@pytest.mark.parametrize("params", [
    {"$filter": "Nope eq 1"},
    {"$filter": "Id eq"},
    {"$filter": "Id eq 1 and"},
    {"$filter": "(Id eq 1"},
    {"$filter": "Id"},
    {"$filter": "Name eq 1"},
    {"$filter": "Created ge 2025-06-11"},
    {"$filter": "startswith(Name,'B')"},
    {"$filter": "Items/any(i: i/PartNo eq 'A')"},
    {"$orderby": "Nope"},
    {"$orderby": "Id sideways"},
    {"$select": "Nope"},
    {"$expand": "Nope"},
    {"$top": "-1"},
    {"$skip": "x"},
    {"$count": "true"},
    {"$apply": "groupby((Name))"},
])
def test_refused_queries_are_odata_400(params: dict[str, str]) -> None:
    with pytest.raises(ODataError) as info:
        ids(params)
    assert info.value.status == 400
    assert info.value.body()["error"]["message"]


def test_datetimes_sort_by_instant_not_by_text() -> None:
    rows = [{"Id": 1, "Updated": "2025-06-12T12:00:00Z"}, {"Id": 2, "Updated": "2025-06-12T11:59:59.5Z"},
            {"Id": 3, "Updated": "2025-06-12T12:00:00.25Z"}]
    assert ids({"$orderby": "Updated"}, rows) == [2, 1, 3]
