"""Job life cycle, JobDto/JobLogDto shapes, and the job fault knobs (norce-api.md §4.7; expected values by hand)."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from tests.sandbox.norce.test_catalog_helpers import Env, env, onhand, onhand_header

__all__ = ["env"]

OFFSETLESS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")


def test_manual_life_cycle_applies_only_on_success(env: Env) -> None:
    env.catalog.set_faults(job_delay_seconds=None)  # jobs move only when the test says so
    job_id = env.submit("ImportOnhands", [onhand("1001", 3)], onhand_header("OnhandValue"))
    seen = []
    for _ in range(4):
        dto = env.job(job_id)
        seen.append((dto["StatusId"], dto["IsFinished"], env.catalog.onhand("1001")["OnhandValue"]))
        env.catalog.jobs.advance()
    # Queued(6) → Validating(5) → Initialized(1) → Succeeded(2); seeded stock 120 until the job succeeds
    assert seen == [(6, False, Decimal(120)), (5, False, Decimal(120)), (1, False, Decimal(120)),
                    (2, True, Decimal(3))]


def test_clock_driven_job_and_its_dto(env: Env) -> None:
    env.catalog.set_faults(job_delay_seconds=30)
    job_id = env.submit("ImportOnhands", [onhand("1001", 3), onhand("1006", 8)], onhand_header(3))
    queued = env.job(job_id)
    assert queued["StatusId"] == 6 and queued["Stop"] is None
    env.move(9)
    assert env.job(job_id)["StatusId"] == 6
    env.move(1)
    assert env.job(job_id)["StatusId"] == 5
    env.move(10)
    assert env.job(job_id)["StatusId"] == 1
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(60)
    env.move(10)
    done = env.job(job_id)
    # base 2026-11-02T08:00:00Z is 09:00 in Stockholm (CET); no offset on the wire
    assert done == {"JobId": job_id, "StatusId": 2, "IsFinished": True, "Totals": 2, "Fail": 0, "Updates": 2,
                    "Inserts": 0, "Start": "2026-11-02T09:00:00.000", "Stop": "2026-11-02T09:00:30.000",
                    "LastUpdated": "2026-11-02T09:00:30.000", "RunTime": "00:00:30.0000000",
                    "StorageName": done["StorageName"]}
    assert str(job_id) in done["StorageName"]
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(8)


def test_log_starts_and_finishes_with_offsetless_timestamps(env: Env) -> None:
    job_id = env.submit("ImportOnhands", [onhand("1001", 3)], onhand_header(3))
    log = env.log(job_id)
    assert [e["Message"] for e in log] == ["Starting import.", "Import finished."]
    assert {e["SeverityId"] for e in log} == {1}
    assert all(OFFSETLESS.match(e["TimeStamp"]) for e in log)
    assert set(log[0]) == {"SeverityId", "Message", "TimeStamp", "ImportedRow"}


def test_fail_next_jobs_fails_one_job_and_imports_nothing(env: Env) -> None:
    env.catalog.set_faults(fail_next_jobs=1)
    failed = env.submit("ImportOnhands", [onhand("1001", 3)], onhand_header(3))
    ok = env.submit("ImportOnhands", [onhand("1006", 4)], onhand_header(3))
    assert env.job(failed)["StatusId"] == 3
    assert env.job(failed)["IsFinished"] is True
    errors = [e for e in env.log(failed) if e["SeverityId"] == 3]
    assert len(errors) == 1 and "failed" in errors[0]["Message"]
    assert env.catalog.onhand("1001")["OnhandValue"] == Decimal(120)
    assert env.job(ok)["StatusId"] == 2
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(4)
    assert env.catalog.faults.fail_next_jobs == 0


def test_job_whose_rows_all_fail_validation_ends_validation_failed(env: Env) -> None:
    job_id = env.submit("ImportOnhands", [{"PartNo": "1001"}, onhand("1006", "x")], onhand_header(3))
    dto = env.job(job_id)
    assert (dto["StatusId"], dto["Fail"], dto["Totals"]) == (4, 2, 2)
    log = env.log(job_id)
    assert [e["SeverityId"] for e in log] == [1, 3, 3, 1]
    assert log[1]["ImportedRow"] == '{"PartNo": "1001"}'
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(60)


def test_invalid_rows_are_logged_and_the_rest_lands(env: Env) -> None:
    job_id = env.submit("ImportOnhands", [onhand("1001", 7), {"PartNo": "1006", "OnhandValue": 1}],
                        onhand_header(3))
    dto = env.job(job_id)
    assert (dto["StatusId"], dto["Fail"], dto["Updates"]) == (2, 1, 1)
    assert env.catalog.onhand("1001")["OnhandValue"] == Decimal(7)
    assert any(e["SeverityId"] == 3 and "1006" in e["Message"] for e in env.log(job_id))


def test_reject_skus_logs_an_error_naming_the_part_no_and_lands_the_rest(env: Env) -> None:
    env.catalog.set_faults(reject_skus=["1006"])
    job_id = env.submit("ImportOnhands", [onhand("1001", 1), onhand("1006", 2), onhand("1007", 3)],
                        onhand_header(3))
    dto = env.job(job_id)
    assert (dto["StatusId"], dto["Fail"], dto["Updates"]) == (2, 1, 2)
    errors = [e for e in env.log(job_id) if e["SeverityId"] == 3]
    assert len(errors) == 1
    assert "PartNo '1006'" in errors[0]["Message"]
    assert '"1006"' in errors[0]["ImportedRow"]
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(60)
    assert env.catalog.onhand("1001")["OnhandValue"] == Decimal(1)
    assert env.catalog.onhand("1007")["OnhandValue"] == Decimal(3)


def test_admin_routes_set_knobs_drive_jobs_and_show_what_was_seen(env: Env) -> None:
    bad = env.client.post("/_sandbox/catalog/faults", json={"fail_next_job": 1})
    assert bad.status_code == 400 and "fail_next_job" in bad.text
    knobs = env.client.post("/_sandbox/catalog/faults", json={"job_delay_seconds": None, "reject_skus": ["1001"]})
    assert knobs.json() == {"fail_next_jobs": 0, "reject_skus": ["1001"], "job_delay_seconds": None}
    job_id = env.submit("ImportOnhands", [onhand("1001", 1)], onhand_header(3, full_file=True))
    assert env.job(job_id)["StatusId"] == 6
    assert env.client.post("/_sandbox/catalog/jobs/advance", params={"steps": 2}).status_code == 200
    assert env.job(job_id)["StatusId"] == 1
    env.client.post("/_sandbox/catalog/jobs/process")
    assert env.job(job_id)["StatusId"] == 2
    state = env.client.get("/_sandbox/catalog").json()
    assert [(j["JobId"], j["Operation"], j["FullFile"]) for j in state["jobs"]] == [(job_id, "ImportOnhands", True)]
    assert state["jobs"][0]["Header"]["FullFile"] is True
    assert env.client.delete("/_sandbox/catalog/faults").json()["reject_skus"] == []


def test_transport_fault_before_the_work_queues_no_job(env: Env) -> None:
    env.sb.faults.update(forced={"server_error": 1})
    response = env.post("ImportOnhands", [onhand("1001", 3)], onhand_header(3))
    assert response.status_code == 503
    assert env.catalog.jobs_seen == []
    assert env.catalog.onhand("1001")["OnhandValue"] == Decimal(120)


def test_background_mode_finishes_jobs_nobody_polls(env: Env) -> None:
    env.catalog.set_faults(job_delay_seconds=30)
    job_id = env.submit("ImportOnhands", [onhand("1001", 3)], onhand_header(3))
    env.catalog.jobs.start_background(interval=0.01)
    env.move(30)
    deadline = time.monotonic() + 5
    while env.catalog.jobs.jobs[job_id].status != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    env.catalog.jobs.stop_background()
    assert env.catalog.jobs.jobs[job_id].status == 2
    assert env.catalog.onhands[("1001", "MAIN", "MAIN")]["OnhandValue"] == Decimal(3)
