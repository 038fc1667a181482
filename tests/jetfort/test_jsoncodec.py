"""jetfort.jsoncodec reads and writes the same JSON values as the standard library."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import yaml

from jetfort import jsoncodec
from tests.contract.openapi import spec_path

VCR = spec_path().parent / "fortnox-recorded-responses-vcr"


def recorded_texts() -> list[str]:
    texts = []
    for path in sorted(VCR.glob("*/*.yml")):
        for interaction in yaml.safe_load(path.read_text())["http_interactions"]:
            for side in ("request", "response"):
                text = ((interaction.get(side) or {}).get("body") or {}).get("string")
                if isinstance(text, str) and text.lstrip().startswith(("{", "[")):
                    texts.append(text)
    return texts


def test_every_recorded_real_fortnox_body_reads_and_writes_as_with_the_standard_library() -> None:
    texts = recorded_texts()
    assert len(texts) > 100
    for text in texts:
        value = json.loads(text)
        assert jsoncodec.loads(text) == value
        assert jsoncodec.loads(text.encode()) == value
        assert json.loads(jsoncodec.dumps(value)) == value
        assert json.loads(jsoncodec.dumps_bytes(value)) == value


@pytest.mark.parametrize("value", [
    {"Street": "Skolvägen 17 \u2013 Umeå", "emoji": "🧾", "quote": "a\"b\\c\n", "ctrl": "\x01"},
    {"big": 2 ** 80, "neg": -7, "f": 0.1 + 0.2, "tiny": 5e-324, "nested": [[], {}, [None, True, False]]},
    {"1": "int keys become strings", "rows": [{"Price": 129.0, "VAT": 25}]},
])
def test_values_round_trip(value: Any) -> None:
    assert jsoncodec.loads(jsoncodec.dumps(value)) == json.loads(json.dumps(value)) == value


def test_what_only_the_standard_library_reads_is_still_read() -> None:
    assert jsoncodec.loads("[NaN, 1e400]")[1] == float("inf")
    assert jsoncodec.loads('{"a": "å"}'.encode("utf-16")) == {"a": "å"}
    assert jsoncodec.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a UTF-8 byte order mark


@pytest.mark.parametrize("text", ["", "{", "<html>502 Bad Gateway</html>", '{"a": 1} trailing', b"\xff\xfe\xfd"])
def test_what_is_not_json_raises_value_error(text: Any) -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads(text)


def test_what_differs_from_the_standard_library_is_only_what_it_refuses_or_writes_invalidly() -> None:
    assert jsoncodec.loads(jsoncodec.dumps({"d": Decimal("1.10"), "t": dt.date(2026, 11, 29)})) == \
        {"d": "1.10", "t": "2026-11-29"}
    assert jsoncodec.dumps(float("nan")) == "null"  # json.dumps would write the invalid token NaN
    with pytest.raises(TypeError):
        jsoncodec.dumps({"x": object()})
