"""Fault injection at the AWS boundary: the worker 'dies' right before or after a call.

Hooks are registered on the real botocore clients the service uses (S3, SQS and
every PynamoDB connection), so the service's own code runs unchanged; an armed
hook raises `Crash` the nth time its event fires, which is what a Lambda killed
at that point looks like to SQS: the message is not deleted and comes back.

A chunk's batch writes run on writer threads, so hooks fire on several threads at once:
counting, clock ticks and trigger checks happen under one re-entrant lock (an action may
itself call AWS, e.g. a cancel from the API, and fire hooks on the same thread). A
`Crash` raised on a writer thread reaches the handler through `batch_write`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import runtime
from chalicelib.adapters import aws
from chalicelib.core.models import ALL_MODELS

LINES_TABLE = "test-lines"


_installed: list[FaultInjector] = []


def uninstall_all() -> None:
    """Removes every injector's hooks (called between tests)."""
    while _installed:
        _installed.pop().uninstall()


class Crash(Exception):
    """The Lambda died here."""


@dataclass
class Trigger:
    event: str  # e.g. "after-call.dynamodb.BatchWriteItem"
    occurrence: int  # fire on the nth matching event (1-based)
    action: Callable[[], None]
    # For "before-parameter-build" events: only calls whose API parameters match count.
    matches: Callable[[dict[str, Any]], bool] | None = None
    seen: int = 0
    fired: bool = False


def deletes_lines(params: dict[str, Any]) -> bool:
    """A BatchWriteItem that deletes statement lines (a discard or a lote deletion)."""
    requests = params.get("RequestItems", {}).get(LINES_TABLE, [])
    return any("DeleteRequest" in request for request in requests)


class AwsTime:
    """A Lambda clock in which time passes only through AWS calls, `per_call` seconds each.

    The worker's time budget is then tested against a fixed cost model instead of this
    machine's load: the same run gives the same chunks and continuations every time, and a
    worker that ignored its budget would still overrun it, since its calls keep the clock
    moving."""

    def __init__(self, per_call: float) -> None:
        self.now = 0.0
        self.per_call = per_call

    def time(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.per_call


class StillTime:
    """A Lambda clock that never moves: an invocation's budget never runs low."""

    def time(self) -> float:
        return 0.0


@dataclass
class FaultInjector:
    """Counts AWS calls by event and runs armed actions at chosen ones."""

    triggers: list[Trigger] = field(default_factory=list)
    clocks: list[AwsTime] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    line_puts: int = 0  # lines written to the lines table, counted from the requests
    _clients: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def install(self) -> FaultInjector:
        """Hooks every client the service uses, until `uninstall` (or the test's end)."""
        runtime.services()  # binds the models first: binding drops their clients
        clients = [aws.s3_client(), aws.sqs_client()]
        clients += [model._get_connection().connection.client for model in ALL_MODELS]
        for client in clients:
            for event, handler in self._hooks():
                client.meta.events.register(event, handler, unique_id=self._hook_id(event))
        self._clients = clients
        _installed.append(self)
        return self

    def uninstall(self) -> None:
        # The clients outlive the test (one moto for the whole run): hooks must not.
        for client in self._clients:
            for event, _handler in self._hooks():
                client.meta.events.unregister(event, unique_id=self._hook_id(event))
        self._clients = []

    def _hooks(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            ("before-parameter-build", self._parameters),
            ("before-call", self._call),
            ("after-call", self._call),
        ]

    def _hook_id(self, event: str) -> str:
        return f"fault-injector-{id(self)}-{event}"

    def crash_at(self, event: str, occurrence: int = 1) -> Trigger:
        def crash() -> None:
            raise Crash(f"killed at {event} #{occurrence}")

        return self.run_at(event, occurrence, crash)

    def run_at(
        self,
        event: str,
        occurrence: int,
        action: Callable[[], None],
        matches: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Trigger:
        trigger = Trigger(event, occurrence, action, matches)
        self.triggers.append(trigger)
        return trigger

    def disarm(self) -> None:
        self.triggers.clear()

    def _parameters(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            if event_name == "before-parameter-build.dynamodb.BatchWriteItem":
                requests = params.get("RequestItems", {}).get(LINES_TABLE, [])
                self.line_puts += sum(1 for request in requests if "PutRequest" in request)
            self._fire(event_name, params)

    def _call(self, event_name: str, **_: Any) -> None:
        with self._lock:
            if event_name.startswith("after-call"):
                for clock in self.clocks:
                    clock.tick()
            self._fire(event_name, {})

    def _fire(self, event_name: str, params: dict[str, Any]) -> None:
        self.counts[event_name] += 1
        for trigger in self.triggers:
            if trigger.fired or trigger.event != event_name:
                continue
            if trigger.matches is not None and not trigger.matches(params):
                continue
            trigger.seen += 1
            if trigger.seen == trigger.occurrence:
                trigger.fired = True
                trigger.action()
