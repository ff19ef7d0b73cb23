"""Feeds SQS messages to the Lambda handlers, as AWS's event source mapping would.

`chalice local` serves routes only. Locally (against moto server) and in tests
(moto in-process), this pump receives from each queue, wraps every message in
the event Lambda would get, calls the same Chalice handler with a Lambda context
that has a real time budget, deletes the message on success and makes it visible
again on failure, so SQS redelivers it and, past maxReceiveCount, dead-letters it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice.local import LambdaContext

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Invocation:
    """One handler call: which queue, how long it took, what budget it had, and how it ended."""

    queue: str
    budget_ms: int
    remaining_ms_at_end: int
    error: str | None = None


@dataclass
class PumpStats:
    invocations: list[Invocation] = field(default_factory=list)

    def on(self, queue: str) -> list[Invocation]:
        return [call for call in self.invocations if call.queue == queue]


@dataclass(frozen=True)
class Route:
    """A queue and the handler that consumes it (batch size 1, as the app declares)."""

    name: str
    url: str
    handler: Handler
    function_name: str


class Pump:
    """Drives queue -> handler deliveries; one message per invocation."""

    def __init__(
        self,
        sqs: Any,
        routes: list[Route],
        budget_ms: int,
        region: str,
        on_invocation: Callable[[Invocation], None] | None = None,
        clock: Any = None,
    ) -> None:
        self._sqs = sqs
        self.routes = routes
        self._budget_ms = budget_ms
        self._region = region
        self._on_invocation = on_invocation
        # The Lambda context's time source (anything with .time()); the wall clock if None.
        self._clock = clock
        self.stats = PumpStats()

    def poll_once(self, wait_s: int = 0, only: str | None = None) -> int:
        """One receive per queue (or only from queue `only`); returns messages handled."""
        handled = 0
        for route in self.routes:
            if only is not None and route.name != only:
                continue
            response = self._sqs.receive_message(
                QueueUrl=route.url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait_s,
                AttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                self._deliver(route, message)
                handled += 1
        return handled

    def drain(self, max_messages: int = 100_000, only: str | None = None) -> PumpStats:
        """Handles messages until every queue (or queue `only`) is empty."""
        handled = 0
        while handled < max_messages:
            count = self.poll_once(only=only)
            if count == 0:
                break
            handled += count
        else:
            raise RuntimeError(f"queues still busy after {max_messages} messages")
        return self.stats

    def run_forever(self, stop: threading.Event, idle_s: float = 0.1) -> None:
        # Short polls of every queue in turn: a long poll on an empty queue would hold
        # up the continuation waiting on the next one.
        while not stop.is_set():
            try:
                if self.poll_once(wait_s=0) == 0:
                    stop.wait(idle_s)
            except Exception:
                log.exception("pump poll failed")
                time.sleep(1)

    def _deliver(self, route: Route, message: dict[str, Any]) -> None:
        context = LambdaContext(
            route.function_name, 1024, max_runtime_ms=self._budget_ms, time_source=self._clock
        )
        event = {"Records": [self._record(route, message)]}
        error: str | None = None
        started = time.monotonic()
        try:
            route.handler(event, context)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("handler %s failed; the message will be redelivered", route.name)
        invocation = Invocation(
            route.name, self._budget_ms, context.get_remaining_time_in_millis(), error
        )
        log.info(
            "%s: message %s handled in %d ms%s",
            route.name,
            message["MessageId"],
            (time.monotonic() - started) * 1000,
            f", failed: {error}" if error else "",
        )
        self.stats.invocations.append(invocation)
        if self._on_invocation is not None:
            self._on_invocation(invocation)
        if error is None:
            self._sqs.delete_message(QueueUrl=route.url, ReceiptHandle=message["ReceiptHandle"])
        else:
            self._sqs.change_message_visibility(
                QueueUrl=route.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    def record_for(self, queue: str, message: dict[str, Any]) -> dict[str, Any]:
        """The Lambda event record of `message` received from queue `queue`."""
        route = next(route for route in self.routes if route.name == queue)
        return self._record(route, message)

    def _record(self, route: Route, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{self._region}:123456789012:{route.name}",
            "awsRegion": self._region,
        }
