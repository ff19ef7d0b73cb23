"""The tests' and local stack's moto answers a Query from the queried partition only:
the same answers as moto's own scan of the whole table, page by page."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table

from localdev.resources import QueueUrls

QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "b"}}},
    {
        "KeyConditionExpression": "g = :g AND n > :n",
        "ExpressionAttributeValues": {":g": {"S": "b"}, ":n": {"N": "3"}},
        "Limit": 4,
    },
    {
        "KeyConditionExpression": "g = :g",
        "FilterExpression": "v = :v",
        "ExpressionAttributeValues": {":g": {"S": "c"}, ":v": {"S": "odd"}},
        "ScanIndexForward": False,
    },
    {"KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "none"}}},
]


def all_pages(client: Any, query: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        response = client.query(TableName="speedup", **query, **extra)
        pages.append(response["Items"])
        start = response.get("LastEvaluatedKey")
        if not start:
            return pages


def test_a_query_reads_the_same_items_as_moto_scanning_the_table(
    aws: QueueUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert getattr(Table.query, "_one_partition", False), "tests/conftest.py installs it"
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="speedup",
        KeySchema=[
            {"AttributeName": "g", "KeyType": "HASH"},
            {"AttributeName": "n", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for g in "abc":
        for n in range(1, 11):
            item = {"g": {"S": g}, "n": {"N": str(n)}, "v": {"S": "odd" if n % 2 else "even"}}
            client.put_item(TableName="speedup", Item=item)
    fast = [all_pages(client, query) for query in QUERIES]
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    assert fast == [all_pages(client, query) for query in QUERIES]
    assert [sum(len(page) for page in pages) for pages in fast] == [10, 7, 5, 0]
