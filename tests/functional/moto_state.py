"""One in-process moto for the whole functional run, emptied between tests.

Building a moto and the service's clients costs about 2 s (most of it botocore
loading its endpoint and service models for every new session), more than most
tests take to run. So moto starts once, with the resources `localdev.resources`
creates; between tests every table, queue and the bucket is emptied through the
AWS APIs, and whatever a test created besides them is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from chalicelib import runtime
from chalicelib.core.settings import get_settings
from localdev.resources import QueueUrls, create_resources

BATCH_LIMIT = 25  # DynamoDB's limit of requests in one BatchWriteItem


@dataclass
class MotoState:
    """The session's moto: started by the first test that needs it, stopped after the last."""

    urls: QueueUrls | None = None
    _mock: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, list[str]] = field(default_factory=dict)  # table -> key attributes
    _queues: set[str] = field(default_factory=set)
    _buckets: set[str] = field(default_factory=set)

    def start(self) -> QueueUrls:
        if self.urls is not None:
            return self.urls
        self._mock = mock_aws()
        self._mock.start()
        runtime.reset()  # no client created before moto started may survive
        self.urls = create_resources(get_settings())
        runtime.reset()
        self._clients = {name: boto3.client(name) for name in ("dynamodb", "sqs", "s3")}
        self._remember_resources()
        return self.urls

    def stop(self) -> None:
        if self._mock is None:
            return
        self._mock.stop()
        runtime.reset()
        self._mock, self.urls = None, None

    def _remember_resources(self) -> None:
        dynamodb, sqs, s3 = (self._clients[name] for name in ("dynamodb", "sqs", "s3"))
        for table in dynamodb.list_tables()["TableNames"]:
            schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
            self._tables[table] = [key["AttributeName"] for key in schema]
        self._queues = set(sqs.list_queues().get("QueueUrls", []))
        self._buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}

    def empty(self) -> None:
        """Leaves the resources as `start` created them: no items, messages or objects."""
        self._empty_tables()
        self._empty_queues()
        self._empty_buckets()

    def _empty_tables(self) -> None:
        dynamodb = self._clients["dynamodb"]
        for table in dynamodb.list_tables()["TableNames"]:
            if table not in self._tables:
                dynamodb.delete_table(TableName=table)
                continue
            keys = self._tables[table]
            names = {f"#k{index}": key for index, key in enumerate(keys)}
            deletes: list[dict[str, Any]] = []
            for page in dynamodb.get_paginator("scan").paginate(
                TableName=table,
                ProjectionExpression=", ".join(names),
                ExpressionAttributeNames=names,
            ):
                deletes += [{"DeleteRequest": {"Key": item}} for item in page["Items"]]
            for start in range(0, len(deletes), BATCH_LIMIT):
                batch = deletes[start : start + BATCH_LIMIT]
                # moto processes every request of a batch: nothing comes back unprocessed.
                dynamodb.batch_write_item(RequestItems={table: batch})

    def _empty_queues(self) -> None:
        sqs = self._clients["sqs"]
        for url in sqs.list_queues().get("QueueUrls", []):
            if url in self._queues:
                # moto's purge drops in-flight messages too (AWS's one purge a
                # minute is off: tests/environment.py).
                sqs.purge_queue(QueueUrl=url)
            else:
                sqs.delete_queue(QueueUrl=url)

    def _empty_buckets(self) -> None:
        s3 = self._clients["s3"]
        for bucket in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
            if bucket not in self._buckets:
                s3.delete_bucket(Bucket=bucket)
