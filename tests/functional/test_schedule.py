"""Scheduled imports (`runAt`): the file goes up now, the import starts at its time, never
before, on the service's clock rather than the test's sleeps (issue 14, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from fakes import StepClock
from support import Api, create_and_upload, lose_messages, service_clock

from chalicelib import runtime
from chalicelib.core.clock import iso
from chalicelib.core.models import Job
from chalicelib.engine import sweeper
from localdev.dktgen import generate_bytes
from localdev.pump import Pump
from localdev.resources import QueueUrls

STATEMENT = generate_bytes(150, seed=501)


@pytest.fixture
def clock(aws: QueueUrls, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepClock]:
    """The service's clock, moved by the test. SQS holds a delayed message for real
    seconds, so a hop is sent undelayed here (SCHEDULE_HOP_S=0): every delivery asks the
    clock whether the job is due, as the delivery after a real hop would."""
    with service_clock(monkeypatch, SCHEDULE_HOP_S="0") as moved:
        yield moved


def scheduled(api: Api, clock: StepClock, seconds: float, **fields: object) -> str:
    run_at = iso(clock.now() + timedelta(seconds=seconds))
    created = create_and_upload(api, STATEMENT, runAt=run_at, **fields)
    return str(created.json_body["job"]["id"])


def deliver(pump: Pump, times: int) -> None:
    """`times` deliveries of whatever is on the queues (a held job's hop comes back)."""
    for _ in range(times):
        pump.poll_once()


def test_a_job_scheduled_two_minutes_ahead_starts_on_time_and_not_before(
    api: Api, pump: Pump, clock: StepClock
) -> None:
    due = clock.now() + timedelta(minutes=2)
    job_id = scheduled(api, clock, 120)
    deliver(pump, 5)  # the upload's event, then the hops

    waiting = api.job(job_id)
    assert waiting["status"] == "QUEUED" and waiting["startedAt"] is None
    assert waiting["runAt"] == iso(due)
    assert "Programada" in waiting["message"]

    clock.advance(119)
    deliver(pump, 5)
    assert api.job(job_id)["status"] == "QUEUED"  # a second early: still waiting

    clock.advance(1)
    pump.drain()
    done = api.job(job_id)
    assert done["status"] == "COMPLETED" and done["processedItems"] == 150
    assert done["startedAt"] == iso(due)  # the first delivery at its time started it


def test_a_waiting_job_is_held_by_sqs_for_the_time_left(
    api: Api, aws: QueueUrls, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As deployed (hops of up to 900 s): the message waits in the queue, not in a worker.
    monkeypatch.setenv("SCHEDULE_HOP_S", "900")
    runtime.reset()
    soon = create_and_upload(api, STATEMENT, runAt=iso(datetime.now(UTC) + timedelta(seconds=90)))
    pump.drain(only="dkt-jobs-uploads")

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.work, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    job = Job.get(soon.json_body["job"]["id"])
    assert job.run_at is not None and job.heartbeat_at is not None
    # The job's heartbeat is its wake-up time: the sweeper leaves it alone until then.
    assert abs((job.heartbeat_at - job.run_at).total_seconds()) <= 1


def test_the_sweeper_leaves_a_waiting_job_alone_and_rescues_a_lost_hop(
    api: Api, aws: QueueUrls, pump: Pump, clock: StepClock
) -> None:
    job_id = scheduled(api, clock, 3600)
    deliver(pump, 2)
    services = runtime.services()

    assert sweeper.sweep(services, clock.now() + timedelta(minutes=1)).rescued == []

    # The hop is lost, and the stale window passes: rescued, and held again, not started.
    lose_messages(aws.work)
    clock.advance(services.settings.stale_after_s + 1)
    assert sweeper.sweep(services, clock.now()).rescued == [job_id]
    deliver(pump, 3)
    assert api.job(job_id)["status"] == "QUEUED"
    clock.advance(3600)
    pump.drain()
    assert api.job(job_id)["status"] == "COMPLETED"


def test_a_waiting_job_can_be_cancelled_at_once(api: Api, pump: Pump, clock: StepClock) -> None:
    job_id = scheduled(api, clock, 600)
    deliver(pump, 2)

    response = api.cancel(job_id)

    assert response.status_code == 200
    clock.advance(600)
    pump.drain()
    assert api.job(job_id)["status"] == "CANCELLED"
    assert api.job(job_id)["startedAt"] is None


def test_a_waiting_job_can_be_moved_or_started_now(
    api: Api, aws: QueueUrls, pump: Pump, clock: StepClock
) -> None:
    later = scheduled(api, clock, 600)
    deliver(pump, 2)

    # Moved to an hour later: not started at its first time.
    new_time = iso(clock.now() + timedelta(hours=1))
    moved = api.patch(f"/api/jobs/{later}", {"runAt": new_time})
    assert moved.status_code == 200, moved.json_body
    assert moved.json_body["runAt"] == new_time
    clock.advance(600)
    deliver(pump, 4)
    assert api.job(later)["status"] == "QUEUED"
    # ... and the hops sent for the first time were dropped: one message waits, the new one
    waiting = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.work, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert waiting == "1"

    # Then asked to start now.
    now = api.patch(f"/api/jobs/{later}", {"runAt": None})
    assert now.status_code == 200 and now.json_body["runAt"] is None
    pump.drain()
    assert api.job(later)["status"] == "COMPLETED"

    # Once it ran, its time is no longer the user's to move.
    too_late = api.patch(f"/api/jobs/{later}", {"runAt": new_time})
    assert too_late.status_code == 409
    assert "ya comenzó" in too_late.json_body["message"]


def test_runat_too_far_ahead_or_malformed_is_a_400(api: Api, clock: StepClock) -> None:
    far = iso(clock.now() + timedelta(days=2))  # SCHEDULE_MAX_DAYS is 1

    response = api.create_import(size=10, runAt=far)
    malformed = api.create_import(size=10, runAt="mañana a la tarde")

    assert response.status_code == 400
    assert "con hasta 1 día de anticipación" in response.json_body["message"]
    assert malformed.status_code == 400
    assert "runAt" in malformed.json_body["message"]
    assert api.get("/api/jobs").json_body["jobs"] == []


def test_a_time_already_past_starts_at_once(api: Api, pump: Pump, clock: StepClock) -> None:
    job_id = scheduled(api, clock, -60)
    pump.drain()

    job = api.job(job_id)
    assert job["status"] == "COMPLETED" and job["runAt"] is None
