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


@dataclass(frozen=True)
class TableDefinition:
    """What it takes to create a table again as it was: CreateTable's and TTL's arguments."""

    create: dict[str, Any]
    ttl_attribute: str | None


def _table_definition(dynamodb: Any, name: str) -> TableDefinition:
    table = dynamodb.describe_table(TableName=name)["Table"]
    create: dict[str, Any] = {
        "TableName": name,
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": table.get("BillingModeSummary", {}).get("BillingMode", "PAY_PER_REQUEST"),
    }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if table.get(kind):
            create[kind] = [
                {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                for index in table[kind]
            ]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    enabled = ttl.get("TimeToLiveStatus") == "ENABLED"
    return TableDefinition(create, ttl.get("AttributeName") if enabled else None)


def _create_table(dynamodb: Any, definition: TableDefinition) -> None:
    dynamodb.create_table(**definition.create)
    if definition.ttl_attribute is not None:
        dynamodb.update_time_to_live(
            TableName=definition.create["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )


@dataclass
class MotoState:
    """The session's moto: started by the first test that needs it, stopped after the last."""

    urls: QueueUrls | None = None
    _mock: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, TableDefinition] = field(default_factory=dict)
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
            self._tables[table] = _table_definition(dynamodb, table)
        self._queues = set(sqs.list_queues().get("QueueUrls", []))
        self._buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}

    def empty(self) -> None:
        """Leaves the resources as `start` created them: no items, messages or objects."""
        self._empty_tables()
        self._empty_queues()
        self._empty_buckets()

    def _empty_tables(self) -> None:
        # Deleting a table and creating it again costs a few calls whatever it holds;
        # deleting 18,000 lines one batch of 25 at a time took 17 s.
        dynamodb = self._clients["dynamodb"]
        for table in dynamodb.list_tables()["TableNames"]:
            definition = self._tables.get(table)
            if definition is not None and not dynamodb.scan(TableName=table, Limit=1)["Items"]:
                continue
            dynamodb.delete_table(TableName=table)
            if definition is not None:
                _create_table(dynamodb, definition)

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
