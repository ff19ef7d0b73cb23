"""A stated model of AWS, applied to every request the service makes, for benchmarks.

moto answers in microseconds and never throttles. This model hooks the service's own
botocore clients (S3, SQS and every PynamoDB connection, as tests/functional/faults.py
does) and gives each request what AWS would: a latency per operation, write units per
item as DynamoDB bills them, and DynamoDB's capacity limits (token buckets per partition
key and per table), over-limit writes answered as DynamoDB answers them.

Two ways of spending the latencies:
- measured: a real sleep, so a request takes its modelled latency (moto's own time
  inside the request counts towards it);
- projected: a virtual clock, which moves with this process's time outside AWS
  requests plus the modelled latencies; `time.sleep` (the service's backoff, botocore's
  retries) advances it instead of waiting (see `install_virtual_sleep`).

Concurrent writes in the projected mode: the service sends a chunk's batch writes
together, `write_concurrency` at a time (chalicelib/adapters/dynamo.py, `_start_bounded`),
and prepares its next chunk while they are in flight. One virtual clock cannot let
requests of several threads overlap, so while a projected run is installed the model runs
those tasks one after another on the calling thread and lays the AWS time each one spent
(latencies, backoff sleeps) on `limit` lanes, each task on the lane that frees first, as
a bounded pool would; the lanes run on from the moment the tasks were sent, and the
caller's `wait()` moves the clock to the end of the longest lane unless the caller's own
work since took it further. The process's own CPU stays serial, as it is under the GIL. The
measured mode keeps the real threads and really sleeps, and `model_check_ratio` in
bench/run.py compares the two.

Throttled single writes (PutItem, UpdateItem, DeleteItem, TransactWriteItems) are
answered before they reach moto, so botocore's own retry never sees them: the model
retries them itself the way botocore's standard mode would (attempts, backoff) and
raises ProvisionedThroughputExceededException once those are spent.

Parameters and their sources (defaults of `AwsParameters`):
- latencies: same-region figures from the AWS docs and common measurements; DynamoDB
  single-digit ms point operations ("DynamoDB delivers single-digit millisecond
  performance", DynamoDB developer guide, "What is Amazon DynamoDB"), batch and
  transactional writes slower (a transaction is two phases: DynamoDB guide,
  "Transactions: capacity management"); S3 first byte 10-20 ms for small objects
  ("Performance design patterns for Amazon S3"), throughput per connection ~100 MB/s;
  SQS SendMessage ~10 ms (SQS developer guide, "Reducing latency"). Stated in issue 10.
- write units: 1 per 1 KB of item, rounded up; transactional writes 2 per KB (DynamoDB
  guide, "Read/write capacity mode", "Capacity unit consumption for writes"; item size
  as "Item sizes and formats" counts it, see `item_size`).
- capacity: 1,000 WCU/s per partition ("Burst and adaptive capacity", "Service quotas":
  a partition serves at most 1,000 WCU/s); on-demand tables start at 4,000 WCU/s of
  throughput and a warmed table sustains 40,000 ("On-demand capacity mode": initial
  throughput; "warm throughput" in the same guide). Over-limit writes of a
  BatchWriteItem come back as UnprocessedItems (a ProvisionedThroughputExceededException
  if none of them could be written); other writes raise the exception.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.adapters.item_size import item_size

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass(frozen=True)
class AwsParameters:
    """The model's parameters (see the module docstring for their sources)."""

    latency_ms: dict[str, float] = field(
        default_factory=lambda: {
            "dynamodb.GetItem": 5.0,
            "dynamodb.PutItem": 5.0,
            "dynamodb.UpdateItem": 5.0,
            "dynamodb.DeleteItem": 5.0,
            "dynamodb.Query": 5.0,
            "dynamodb.Scan": 10.0,
            "dynamodb.BatchWriteItem": 10.0,
            "dynamodb.BatchGetItem": 10.0,
            "dynamodb.TransactWriteItems": 15.0,
            "dynamodb.TransactGetItems": 10.0,
            "s3.GetObject": 20.0,
            "s3.HeadObject": 10.0,
            "s3.PutObject": 20.0,
            "sqs.SendMessage": 10.0,
            "sqs.SendMessageBatch": 10.0,
        }
    )
    default_latency_ms: float = 10.0
    s3_bytes_per_s: float = 100e6
    partition_wcu_per_s: float = 1_000.0
    # A partition's bucket holds this many seconds of its rate (a burst of 100 WCU).
    partition_burst_s: float = 0.1
    table_wcu_per_s: float = 40_000.0  # warmed; NEW_TABLE_WCU_PER_S for a new table
    table_burst_s: float = 0.1
    # Attempts of a throttled single write (botocore's standard mode, as PynamoDB sets it).
    throttle_attempts: int = 4

    def slowed(self, factor: float) -> AwsParameters:
        """The same AWS with every latency `factor` times longer and transfers as much
        slower (what `model_check_ratio` checks the model's accounting with)."""
        return replace(
            self,
            latency_ms={name: ms * factor for name, ms in self.latency_ms.items()},
            default_latency_ms=self.default_latency_ms * factor,
            s3_bytes_per_s=self.s3_bytes_per_s / factor,
        )


NEW_TABLE_WCU_PER_S = 4_000.0
WARM_TABLE_WCU_PER_S = 40_000.0


class VirtualClock:
    """Time as AWS would have taken it: wall time outside AWS requests and the model's own
    bookkeeping, plus modelled latencies and sleeps."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._excluded = 0.0
        self._added = 0.0

    def now(self) -> float:
        return time.perf_counter() - self._start - self._excluded + self._added

    def time(self) -> float:  # the Lambda context's time source
        return self.now()

    def exclude(self, seconds: float) -> None:
        self._excluded += seconds

    def add(self, seconds: float) -> None:
        self._added += seconds

    def added(self) -> float:
        return self._added


class LanedWrites:
    """Batch writes a projected run has already sent, one after another on the calling
    thread: their AWS time ends `longest` lane after they were sent, and `wait` moves the
    clock there (if the caller's own work since has not already taken it further)."""

    def __init__(self, clock: VirtualClock, ends_at: float, error: BaseException | None) -> None:
        self._clock = clock
        self._ends_at = ends_at
        self._error = error

    def wait(self) -> None:
        self._clock.add(max(0.0, self._ends_at - self._clock.now()))
        if self._error is not None:
            raise self._error


def lanes_start_bounded(
    clock: VirtualClock,
) -> Callable[[list[Callable[[], None]], int], LanedWrites]:
    """`dynamo._start_bounded` for a projected run: the tasks in order on this thread (their
    CPU is the process's, serial as under the GIL), their AWS time laid on `limit` lanes
    that run on while the caller goes on (see the module docstring)."""

    def start_bounded(tasks: list[Callable[[], None]], limit: int) -> LanedWrites:
        lanes = [0.0] * max(1, limit)  # AWS time laid on each lane
        error: BaseException | None = None
        for task in tasks:
            before = clock.added()
            try:
                task()
            except Exception as exc:  # a failed batch stops the rest, as in the service
                error = exc
            lanes[lanes.index(min(lanes))] += clock.added() - before
            if error is not None:
                break
        clock.add(-sum(lanes))  # the tasks added the sum; the lanes end later
        return LanedWrites(clock, clock.now() + max(lanes), error)

    return start_bounded


class WallClock:
    """Measured mode: time is the wall clock."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._start

    def time(self) -> float:
        return self.now()


_sleep_target: list[VirtualClock] = []
_real_sleep = time.sleep


def _sleep(seconds: float) -> None:
    if _sleep_target:
        _sleep_target[-1].add(max(seconds, 0.0))
    else:
        _real_sleep(seconds)


def install_virtual_sleep() -> None:
    """Routes `time.sleep` through the model: while a projected run is active, a sleep
    advances its virtual clock. Called before the service is imported, since its backoff
    binds `time.sleep` as a default argument."""
    time.sleep = _sleep


class Bucket:
    """A token bucket: `rate` units a second, holding at most `rate * burst_s`."""

    def __init__(self, rate: float, burst_s: float, now: float) -> None:
        self.rate = rate
        self.capacity = rate * burst_s
        self.tokens = self.capacity
        self.at = now

    def take(self, units: float, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        # An item larger than the burst still goes through once the bucket is full.
        if self.tokens >= min(units, self.capacity):
            self.tokens -= units
            return True
        return False


@dataclass
class Stats:
    """What one run asked of AWS."""

    requests: Counter[str] = field(default_factory=Counter)
    wcu: Counter[str] = field(default_factory=Counter)  # consumed, by table
    items_written: Counter[str] = field(default_factory=Counter)  # by table
    item_wcu: Counter[str] = field(default_factory=Counter)  # "table:wcu" -> items
    rcu: float = 0.0
    throttled_items: int = 0
    throttled_requests: int = 0
    s3_bytes_read: int = 0
    latency_s: float = 0.0
    # (partition, second) -> WCU asked for / WCU accepted
    asked: Counter[tuple[str, int]] = field(default_factory=Counter)
    accepted: Counter[tuple[str, int]] = field(default_factory=Counter)

    def max_partition_rate(self, accepted: bool = False) -> float:
        counts = self.accepted if accepted else self.asked
        return max(counts.values(), default=0)

    def total_requests(self) -> int:
        return sum(self.requests.values())


def _units(size: int, per: int) -> int:
    return max(1, math.ceil(size / per))


class AwsModel:
    """Latency, write units and capacity on every request of the service's clients."""

    def __init__(self, params: AwsParameters, mode: str, key_schemas: dict[str, str]) -> None:
        # "plain": counts what is asked (requests, write units) and nothing else: no
        # latency, no limits; moto as it is.
        assert mode in ("measured", "projected", "plain")
        self.params = params
        self.mode = mode
        self.clock: VirtualClock | WallClock = (
            VirtualClock() if mode == "projected" else WallClock()
        )
        self.key_schemas = key_schemas  # table -> hash key attribute
        self.stats = Stats()
        self._partitions: dict[str, Bucket] = {}
        self._tables: dict[str, Bucket] = {}
        self._sizes: dict[str, int] = {}  # last known size of an item, by key
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self.client_ids: set[int] = set()
        self._concurrent: Callable[[list[Callable[[], None]], int], None] | None = None

    # --- installation -------------------------------------------------------------------

    def install(self, clients: list[Any]) -> AwsModel:
        for client in clients:
            for event, handler in self._hooks():
                client.meta.events.register(event, handler, unique_id=f"aws-model-{event}")
        self._clients = clients
        self.client_ids = {id(client) for client in clients}
        if isinstance(self.clock, VirtualClock):
            _sleep_target.append(self.clock)
            # Imported here: the service binds time.sleep, which must be ours first.
            from chalicelib.adapters import dynamo

            self._concurrent = dynamo._start_bounded
            dynamo._start_bounded = lanes_start_bounded(self.clock)
        return self

    def uninstall(self) -> None:
        for client in self._clients:
            for event, _handler in self._hooks():
                client.meta.events.unregister(event, unique_id=f"aws-model-{event}")
        self._clients = []
        if isinstance(self.clock, VirtualClock) and self.clock in _sleep_target:
            _sleep_target.remove(self.clock)
            from chalicelib.adapters import dynamo

            if self._concurrent is not None:
                dynamo._start_bounded = self._concurrent

    def _hooks(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("provide-client-params", self._provide_params),
            ("before-call", self._before_call),
            ("after-call", self._after_call),
        ]

    # --- capacity -------------------------------------------------------------------------

    def _take(self, table: str, partition: str, units: float, now: float) -> bool:
        second = int(now)
        self.stats.asked[(partition, second)] += units
        if self.mode == "plain":
            self.stats.accepted[(partition, second)] += units
            return True
        part = self._partitions.get(partition)
        if part is None:
            part = self._partitions[partition] = Bucket(
                self.params.partition_wcu_per_s, self.params.partition_burst_s, now
            )
        whole = self._tables.get(table)
        if whole is None:
            whole = self._tables[table] = Bucket(
                self.params.table_wcu_per_s, self.params.table_burst_s, now
            )
        if not part.take(units, now):
            return False
        if not whole.take(units, now):
            part.tokens += units
            return False
        self.stats.accepted[(partition, second)] += units
        return True

    def _partition(self, table: str, item_or_key: dict[str, Any]) -> str:
        hash_key = self.key_schemas[table]
        return f"{table}|{json.dumps(item_or_key.get(hash_key), sort_keys=True)}"

    def _item_key(self, table: str, item: dict[str, Any]) -> str:
        keys = self.key_schemas[f"{table}#keys"].split(",")
        key = {name: item[name] for name in keys if name in item}
        return f"{table}|{json.dumps(key, sort_keys=True)}"

    def _charge(self, table: str, units: float, items: int = 1) -> None:
        self.stats.wcu[table] += units
        self.stats.items_written[table] += items
        self.stats.item_wcu[f"{table}:{units:g}"] += items

    # --- hooks ----------------------------------------------------------------------------

    def _provide_params(
        self, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        started = time.perf_counter()
        context["aws_model_started"] = started
        if event_name == "provide-client-params.dynamodb.BatchWriteItem":
            with self._lock:
                self._batch_write(params, context)
        elif event_name.startswith("provide-client-params.dynamodb."):
            operation = event_name.rsplit(".", 1)[1]
            if operation in WRITE_OPS or operation == "TransactWriteItems":
                with self._lock:
                    self._single_write(operation, params, context)
        self._overhead(started)

    def _batch_write(self, params: dict[str, Any], context: dict[str, Any]) -> None:
        now = self.clock.now()
        unprocessed: dict[str, list[dict[str, Any]]] = {}
        kept: dict[str, list[dict[str, Any]]] = {}
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    size = self._sizes[self._item_key(table, item)] = item_size(item)
                else:
                    item = request["DeleteRequest"]["Key"]
                    size = self._sizes.get(self._item_key(table, item), 1024)
                units = _units(size, 1024)
                if self._take(table, self._partition(table, item), units, now):
                    kept.setdefault(table, []).append(request)
                    self._charge(table, units)
                else:
                    unprocessed.setdefault(table, []).append(request)
                    self.stats.throttled_items += 1
        if not kept:
            context["aws_model_throttled"] = True  # none could be written: an exception
            return
        params["RequestItems"] = kept
        context["aws_model_unprocessed"] = unprocessed

    def _single_write(
        self, operation: str, params: dict[str, Any], context: dict[str, Any]
    ) -> None:
        if operation == "TransactWriteItems":
            entries = []
            for action in params.get("TransactItems", []):
                kind, body = next(iter(action.items()))
                entries.append((kind, body["TableName"], body.get("Item") or body.get("Key"), 2))
        else:
            kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
            entries = [(kind, params["TableName"], params.get("Item") or params.get("Key"), 1)]
        charges = []
        for kind, table, item, factor in entries:
            if kind == "Put":
                size = self._sizes[self._item_key(table, item)] = item_size(item)
            else:
                size = self._sizes.get(self._item_key(table, item), 1024)
            charges.append((table, self._partition(table, item), _units(size, 1024) * factor))
        for attempt in range(self.params.throttle_attempts):
            now = self.clock.now()
            taken = []
            for table, partition, units in charges:
                if not self._take(table, partition, units, now):
                    break
                taken.append((table, partition, units))
            else:
                for table, _partition, units in charges:
                    self._charge(table, units)
                return
            for table, partition, units in taken:  # all or nothing
                self._partitions[partition].tokens += units
                self._tables[table].tokens += units
            self.stats.throttled_requests += 1
            if attempt < self.params.throttle_attempts - 1:
                self.stats.requests[f"dynamodb.{operation}"] += 1
                self._spend(self.params.latency_ms.get(f"dynamodb.{operation}", 5.0) / 1000)
                self._spend(min(20.0, 0.05 * 2**attempt))  # standard mode: full jitter mean
        context["aws_model_throttled"] = True

    def _before_call(self, event_name: str, context: dict[str, Any], **_: Any) -> Any:
        context["aws_model_sent"] = time.perf_counter()
        if context.pop("aws_model_throttled", False):
            error = {
                "Error": {
                    "Code": "ProvisionedThroughputExceededException",
                    "Message": "The level of configured provisioned throughput for the "
                    "table was exceeded (bench AWS model)",
                },
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            return _Http(400), error
        return None

    def _after_call(
        self, event_name: str, parsed: dict[str, Any], context: dict[str, Any], model: Any, **_: Any
    ) -> None:
        ended = time.perf_counter()
        sent = context.pop("aws_model_sent", ended)
        started = context.pop("aws_model_started", sent)
        _, service, operation = event_name.split(".", 2)
        name = f"{service}.{operation}"
        latency = self.params.latency_ms.get(name, self.params.default_latency_ms) / 1000
        with self._lock:
            self.stats.requests[name] += 1
            unprocessed = context.pop("aws_model_unprocessed", None)
            if unprocessed:
                merged = parsed.setdefault("UnprocessedItems", {})
                for table, requests in unprocessed.items():
                    merged.setdefault(table, []).extend(requests)
            if name == "s3.GetObject" and "ContentLength" in parsed:
                self.stats.s3_bytes_read += int(parsed["ContentLength"])
                latency += int(parsed["ContentLength"]) / self.params.s3_bytes_per_s
            if name in ("dynamodb.GetItem", "dynamodb.Query", "dynamodb.Scan"):
                self.stats.rcu += _read_units(parsed)
        self.stats.latency_s += latency
        # moto's own time inside the request is AWS's time: replaced by the latency.
        inside = ended - sent
        if isinstance(self.clock, VirtualClock):
            self.clock.exclude(inside)
            self.clock.add(latency)
        elif self.mode == "measured":
            overhead = time.perf_counter() - started - inside
            _real_sleep(max(0.0, latency - inside - overhead))
        self._overhead(ended)

    def _spend(self, seconds: float) -> None:
        if isinstance(self.clock, VirtualClock):
            self.clock.add(seconds)
        else:
            _real_sleep(seconds)

    def _overhead(self, started: float) -> None:
        if isinstance(self.clock, VirtualClock):
            self.clock.exclude(time.perf_counter() - started)


def _read_units(parsed: dict[str, Any]) -> float:
    if "Item" in parsed:
        return _units(item_size(parsed["Item"]), 4096) / 2
    items = parsed.get("Items", [])
    return _units(sum(item_size(item) for item in items), 4096) / 2


class _Http:
    """The HTTP response of a short-circuited call (botocore reads its status code)."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""
