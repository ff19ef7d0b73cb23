"""SQS: sending messages to the queue the worker Lambda consumes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class QueueMessage(Protocol):
    """Anything that serialises itself as a message body."""

    def to_json(self) -> str: ...


class WorkQueue:
    """The queue the worker Lambda consumes."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> None:
        self._sqs.send_message(
            QueueUrl=self._url, MessageBody=message.to_json(), DelaySeconds=delay_seconds
        )
