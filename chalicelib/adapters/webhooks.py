"""Webhook calls out: a JSON body signed with HMAC-SHA256, sent only to a public address.

The signature header reads `t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256(secret, "<t>." + body): a receiver recomputes it (`verify`) and refuses a
timestamp too old, so a captured call cannot be replayed later. Each attempt signs anew
with the same scheme; the event id header stays the same across attempts, so a receiver
that saw it already can answer 2xx and do nothing.

Server-side request forgery: the URL must be https, without credentials, and every
address its host resolves to must be public (no private, loopback, link-local, shared
or reserved range, so not the Lambda's metadata endpoint nor anything in the VPC). The
call goes to the address that was checked (a second lookup could answer otherwise) and
follows no redirect. Loopback over http is allowed only where the settings say so, for
trying it under `make run`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3

SIGNATURE_HEADER = "Dkt-Signature"
EVENT_ID_HEADER = "Dkt-Event-Id"
TOLERANCE_S = 300
MAX_URL_LENGTH = 2_000


class UnsafeCallback(ValueError):
    """A callback URL the service will not call; the text says why (English, for logs)."""


@dataclass(frozen=True)
class Delivery:
    """How one call went: the HTTP status, or why there was none."""

    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_url(url: str, *, allow_loopback: bool) -> SplitResult:
    """What can be known of `url` without a lookup; raises UnsafeCallback."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeCallback("the URL is too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeCallback(f"not a URL: {exc}") from exc
    host = parts.hostname
    if not host:
        raise UnsafeCallback("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeCallback("the URL carries credentials")
    plain_loopback = parts.scheme == "http" and allow_loopback and _is_loopback_name(host)
    if parts.scheme != "https" and not plain_loopback:
        raise UnsafeCallback("only https URLs are called")
    if port == 0:
        raise UnsafeCallback("port 0")
    if _is_ip(host) or host == "localhost":
        _check_address(host if _is_ip(host) else "127.0.0.1", allow_loopback=allow_loopback)
    return parts


def checked_address(parts: SplitResult, *, allow_loopback: bool) -> str:
    """The address to call for `parts`: the first the host resolves to, once every one is
    checked; raises UnsafeCallback."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeCallback(f"the host does not resolve: {exc}") from exc
    addresses = [str(info[4][0]) for info in found]
    for address in addresses:
        _check_address(address, allow_loopback=allow_loopback)
    return addresses[0]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: bytes,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """What a receiver does: the header's MAC is right and its timestamp recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, f"t={timestamp},v1={fields.get('v1', '')}")


def post(
    url: str,
    body: bytes,
    *,
    secret: bytes,
    event_id: str,
    allow_loopback: bool,
    timeout_s: float,
) -> Delivery:
    """One signed POST of `body` to `url`; never raises for what the receiver does."""
    try:
        parts = check_url(url, allow_loopback=allow_loopback)
        address = checked_address(parts, allow_loopback=allow_loopback)
    except UnsafeCallback as exc:
        return Delivery(error=f"refused: {exc}")
    host = parts.hostname or ""
    timeout = urllib3.Timeout(total=timeout_s)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            parts.port or 443,
            server_hostname=host,
            assert_hostname=host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, parts.port or 80, timeout=timeout, retries=False)
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": "dkt-jobs-webhook/1",
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        EVENT_ID_HEADER: event_id,
    }
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with pool:
            response = pool.urlopen(
                "POST", path, body=body, headers=headers, redirect=False, preload_content=True
            )
    except urllib3.exceptions.HTTPError as exc:
        return Delivery(error=type(exc).__name__)
    return Delivery(status=response.status)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback_name(host: str) -> bool:
    return host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def _check_address(address: str, *, allow_loopback: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback and allow_loopback:
        return
    if not ip.is_global or ip.is_multicast:
        raise UnsafeCallback(f"{ip} is not a public address")
