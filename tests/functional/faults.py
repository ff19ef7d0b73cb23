"""Fault injection at the AWS boundary: the worker 'dies' right before or after a call.

Hooks are registered on the real botocore clients the service uses (S3, SQS and
every PynamoDB connection), so the service's own code runs unchanged; an armed
hook raises `Crash` the nth time its event fires, which is what a Lambda killed
at that point looks like to SQS: the message is not deleted and comes back.

A chunk's batch writes run on writer threads, so hooks fire on several threads at once.
While an injector is installed, the service's AWS calls go one at a time (`World`), and
an action runs with the world stopped: nothing else moves while it happens, except the
calls the action makes itself, on its thread or on the writer threads it starts (they
copy its context). So an action "at the 6th batch write" sees the batches after it not
yet sent, as it did when they went one after another, and a `Crash` raised on a writer
thread reaches the handler through `batch_write` with the other batches done.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    WORLD.reset()


# Set while an action runs: its own calls (and those of threads started with a copy of
# its context) go through a stopped world.
_acting: ContextVar[bool] = ContextVar("fault_action", default=False)


class World:
    """One AWS call at a time, among the calls of hooked clients; re-entrant for the thread
    that holds it. A wait longer than `patience_s` is a bug in a test: it fails loudly
    rather than hanging the run."""

    def __init__(self, patience_s: float = 60.0) -> None:
        self._condition = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._patience_s = patience_s

    def enter(self) -> bool:
        """Waits for the world; False when the caller works for an action (no wait)."""
        if _acting.get():
            return False
        me = threading.get_ident()
        with self._condition:
            if self._owner != me and not self._condition.wait_for(
                lambda: self._owner is None, self._patience_s
            ):
                raise RuntimeError("fault injector: an AWS call waited too long for its turn")
            self._owner = me
            self._depth += 1
        return True

    def leave(self, entered: bool = True) -> None:
        if not entered:
            return
        with self._condition:
            if self._owner == threading.get_ident() and self._depth > 0:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._condition.notify_all()

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The world stands still around an action, which may call AWS itself."""
        entered = self.enter()
        token = _acting.set(True)
        try:
            yield
        finally:
            _acting.reset(token)
            self.leave(entered)

    def reset(self) -> None:
        with self._condition:
            self._owner, self._depth = None, 0
            self._condition.notify_all()


WORLD = World()


class _Entered(threading.local):
    """Per thread, whether each call under way entered the world (calls nest in actions)."""

    def __init__(self) -> None:
        self.stack: list[bool] = []

    def append(self, entered: bool) -> None:
        self.stack.append(entered)

    def pop(self) -> bool:
        return self.stack.pop() if self.stack else False


_entered = _Entered()


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
            ("after-call-error", self._call_failed),
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

    def break_line_writes_from(self, batch: int, times: int = 200) -> None:
        """From the `batch`-th BatchWriteItem on, the next `times` ones fail (storage that
        stays broken until `disarm`)."""

        def always_fail() -> None:
            raise Crash("DynamoDB keeps failing")

        def break_storage() -> None:
            for _ in range(times):
                self.run_at("after-call.dynamodb.BatchWriteItem", 1, always_fail)

        self.run_at("after-call.dynamodb.BatchWriteItem", batch, break_storage)

    def disarm(self) -> None:
        self.triggers.clear()

    def _parameters(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        if event_name == "before-parameter-build.dynamodb.BatchWriteItem":
            requests = params.get("RequestItems", {}).get(LINES_TABLE, [])
            with self._lock:
                self.line_puts += sum(1 for request in requests if "PutRequest" in request)
        self._fire(event_name, params)

    def _call(self, event_name: str, **_: Any) -> None:
        if event_name.startswith("before-call"):
            # The call's turn: held until its after-call (or after-call-error).
            entered = WORLD.enter()
            _entered.append(entered)
            try:
                self._fire(event_name, {})
            except BaseException:
                WORLD.leave(_entered.pop())
                raise
            return
        try:
            with self._lock:
                for clock in self.clocks:
                    clock.tick()
            self._fire(event_name, {})
        finally:
            WORLD.leave(_entered.pop())

    def _call_failed(self, **_: Any) -> None:
        WORLD.leave(_entered.pop())

    def _fire(self, event_name: str, params: dict[str, Any]) -> None:
        """Runs, in order, the actions of the triggers this event makes due, including those
        an earlier action added."""
        with self._lock:
            self.counts[event_name] += 1
        index = 0
        while True:
            with self._lock:
                due: Trigger | None = None
                while due is None and index < len(self.triggers):
                    trigger = self.triggers[index]
                    index += 1
                    if trigger.fired or trigger.event != event_name:
                        continue
                    if trigger.matches is not None and not trigger.matches(params):
                        continue
                    trigger.seen += 1
                    if trigger.seen == trigger.occurrence:
                        trigger.fired = True
                        due = trigger
            if due is None:
                return
            with WORLD.stopped():
                due.action()
