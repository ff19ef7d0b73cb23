"""GET /api/metrics: the tenant's jobs over a period, as the dashboard shows them
(issue 14, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support import Api, import_file, token_for

from chalicelib.core.models import Job
from localdev.dktgen import generate_bytes
from localdev.pump import Pump

NOV_10 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
PERIOD = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"


def ran_at(job_id: str, created: datetime, seconds: float | None = None) -> None:
    """Places a job that ran in the test at a known moment, worked on for `seconds`."""
    actions = [Job.created_at.set(created)]
    if seconds is not None:
        started = created + timedelta(seconds=5)
        actions += [
            Job.started_at.set(started),
            Job.completed_at.set(started + timedelta(seconds=seconds)),
        ]
    Job(job_id).update(actions=actions)


def broken(lines: int, seed: int) -> bytes:
    return generate_bytes(lines, seed=seed).replace(b"\n", b"\nno es una linea DKT\n", 1)


def test_the_metrics_count_the_jobs_that_ran_in_the_period(api: Api, pump: Pump) -> None:
    # GIVEN two imports that completed (120 lines in 10 s, 80 in 30 s), one that failed,
    # one cancelled, an export, all in November, and an import of October
    fast = import_file(api, pump, generate_bytes(120, seed=401))
    slow = import_file(api, pump, generate_bytes(80, seed=402), codigoTarjeta="VISACORP")
    failed = import_file(api, pump, broken(30, 403), codigoTarjeta="AMEXCORP")
    cancelled = api.create_import(size=10).json_body["job"]["id"]
    api.cancel(cancelled)
    export = api.post(f"/api/lotes/{fast['loteId']}/export", {"format": "csv"}).json_body["job"]
    pump.drain()
    october = import_file(api, pump, generate_bytes(10, seed=404), codigoTarjeta="MASTERCORP")
    ran_at(fast["id"], NOV_10, seconds=10)
    ran_at(slow["id"], NOV_10 + timedelta(days=1), seconds=30)
    ran_at(failed["id"], NOV_10 + timedelta(days=1))
    ran_at(cancelled, NOV_10 + timedelta(days=2))
    ran_at(export["id"], NOV_10 + timedelta(days=2), seconds=2)
    ran_at(october["id"], datetime(2026, 10, 31, 23, 0, tzinfo=UTC), seconds=1)

    # WHEN the dashboard asks for November
    response = api.get(f"/api/metrics?{PERIOD}")

    # THEN it counts November's jobs, and only them
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert (body["start"], body["end"]) == ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")
    assert body["jobs"] == 5 and body["truncated"] is False
    by_type = {entry["type"]: entry for entry in body["byType"]}
    imports = by_type["DKT_IMPORT"]
    assert imports["jobs"] == 4
    assert imports["byStatus"] == {
        "QUEUED": 0,
        "PROCESSING": 0,
        "COMPLETED": 2,
        "FAILED": 1,
        "CANCELLED": 1,
    }
    assert imports["successRate"] == round(2 / 3, 4)  # a cancel is no failure
    assert imports["averageSeconds"] == 20.0
    assert imports["p95Seconds"] == 29.0  # 10 + 0.95 * (30 - 10)
    assert by_type["EXPORT"]["byStatus"]["COMPLETED"] == 1
    assert by_type["EXPORT"]["averageSeconds"] == 2.0
    assert body["successRate"] == 0.75  # 3 completed of 4 that ended either way
    assert body["linesImported"] == 200
    assert body["linesPerSecond"] == 5.0  # 200 lines in 40 s of work
    # ... and day by day, every day of the period, the days without imports at zero
    days = {day["date"]: day for day in body["byDay"]}
    assert len(days) == 30
    assert days["2026-11-10"] == {
        "date": "2026-11-10",
        "completed": 1,
        "failed": 0,
        "cancelled": 0,
        "linesImported": 120,
    }
    assert (days["2026-11-11"]["completed"], days["2026-11-11"]["failed"]) == (1, 1)
    assert days["2026-11-12"]["cancelled"] == 1
    assert days["2026-11-20"]["completed"] == 0


def test_days_follow_the_callers_utc_offset(api: Api, pump: Pump) -> None:
    job = import_file(api, pump, generate_bytes(15, seed=405))
    ran_at(job["id"], datetime(2026, 11, 11, 1, 30, tzinfo=UTC), seconds=3)

    in_utc = api.get(f"/api/metrics?{PERIOD}").json_body["byDay"]
    in_buenos_aires = api.get(f"/api/metrics?{PERIOD}&utcOffsetMinutes=-180").json_body["byDay"]

    def day_of_the_import(days: list[dict[str, object]]) -> list[object]:
        return [day["date"] for day in days if day["completed"]]

    assert day_of_the_import(in_utc) == ["2026-11-11"]
    assert day_of_the_import(in_buenos_aires) == ["2026-11-10"]  # 22:30 of the 10th there
    assert in_buenos_aires[0]["date"] == "2026-10-31"  # 00:00Z of Nov 1 is Oct 31 there


def test_another_companys_jobs_never_count(api: Api, pump: Pump) -> None:
    theirs = Api(api.client, token_for("zoe", tenant="globex"))
    job = import_file(theirs, pump, generate_bytes(25, seed=406))
    ran_at(job["id"], NOV_10, seconds=4)

    mine = api.get(f"/api/metrics?{PERIOD}").json_body

    assert (mine["jobs"], mine["linesImported"], mine["byType"]) == (0, 0, [])
    assert mine["successRate"] is None and mine["linesPerSecond"] is None
    assert theirs.get(f"/api/metrics?{PERIOD}").json_body["linesImported"] == 25


def test_by_default_the_last_30_days(api: Api, pump: Pump) -> None:
    import_file(api, pump, generate_bytes(12, seed=407))

    body = api.get("/api/metrics").json_body

    start = datetime.fromisoformat(body["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["end"].replace("Z", "+00:00"))
    assert end - start == timedelta(days=30)
    assert body["linesImported"] == 12


def test_a_bad_period_is_a_400_saying_what_is_wrong(api: Api) -> None:
    cases = {
        "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z": "anterior",
        "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z": "366 días",
        "from=ayer": "ISO 8601",
        "utcOffsetMinutes=9999": "utcOffsetMinutes",
        "desde=2026-11-01": "desde",
        "to=0001-01-01T00:00:00Z": "entre 2000 y 2100",
        "from=0001-01-01T00:00:00%2B05:00&to=9999-12-31T23:59:59-05:00": "entre 2000 y 2100",
        "from=9999-12-01T00:00:00Z&to=9999-12-31T23:59:59Z": "entre 2000 y 2100",
    }
    for query, said in cases.items():
        response = api.get(f"/api/metrics?{query}")
        assert response.status_code == 400, query
        assert said in response.json_body["message"], (query, response.json_body)
