"""Reading a manual run's params: order numbers, the since/until range, dry run; clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from jetfort.tasks.params import InvalidParams, date_range, order_params_of, range_window

UTC = dt.UTC


def test_order_numbers_accept_lists_numbers_and_text() -> None:
    params = order_params_of({"params": {"order_numbers": [10001, "10002"], "dry_run": True}})
    assert params.order_numbers == ("10001", "10002") and params.dry_run and not params.preflight_only
    assert order_params_of({"params": {"order_numbers": "10001, 10002 10003"}}).order_numbers == (
        "10001", "10002", "10003")
    empty = order_params_of({})
    assert (empty.order_numbers, empty.dry_run, empty.since, empty.until) == ((), False, None, None)


def test_a_range_is_read_in_utc_and_a_local_time_in_the_tenant_zone() -> None:
    since, until = date_range({"since": "2026-11-01T00:00:00+01:00", "until": "2026-11-04T00:00:00Z"})  # type: ignore[misc]
    assert since == dt.datetime(2026, 10, 31, 23, tzinfo=UTC) and until == dt.datetime(2026, 11, 4, tzinfo=UTC)
    local = date_range({"since": "2026-07-01T00:00:00"}, timezone="Europe/Stockholm",
                       now=dt.datetime(2026, 7, 2, tzinfo=UTC))
    assert local == (dt.datetime(2026, 6, 30, 22, tzinfo=UTC), dt.datetime(2026, 7, 2, tzinfo=UTC))  # CEST
    window = range_window({"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"})
    assert window is not None and window.source == "params" and window.end - window.start == dt.timedelta(days=1)
    assert range_window({"since": None, "until": ""}) is None  # the form's empty fields: the run's own window


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "last tuesday"}, "param since: 'last tuesday' is not an ISO datetime"),
    ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "must be later than since"),
    ({"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "must be later than since"),
    ({"until": "2026-11-01T00:00:00Z"}, "until needs since"),
    ({"since": "2026-11-01T00:00:00Z", "order_numbers": ["10001"]}, "either order_numbers or since/until"),
])
def test_bad_params_fail_with_a_message_naming_the_param(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        order_params_of({"params": params})


def test_the_trigger_form_explains_every_param() -> None:
    from jetfort.tasks.params import order_params, status_params

    for params in (order_params(), status_params()):
        for name in ("since", "until", "dry_run"):
            assert params[name].description, name
        assert "write nothing" in params["dry_run"].description or "writes nothing" in params["dry_run"].description
        assert params["since"].schema.get("format") == "date-time"
        with pytest.raises(Exception, match="date-time"):
            params["since"].resolve("2026-13-45")  # the form refuses a date that is none
