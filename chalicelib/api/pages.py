"""The import page: plain HTML, CSS and JS files shipped in chalicelib/api/web/.

Public: the page holds no data; every call it makes to the API carries a token.
"""

from __future__ import annotations

from pathlib import Path

from chalice.app import Response

from chalicelib.adapters.auth import cognito_client_id
from chalicelib.api.errors import error_response
from chalicelib.api.schema import ApiModel
from chalicelib.core.settings import AuthMode, Settings

WEB_DIR = Path(__file__).parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
POLL_INTERVAL_MS = 2_000
# The page shows a user's imports: never inside another site's frame, never cached stale.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class UiConfig(ApiModel):
    """What the page needs to sign in and poll; no secret in it."""

    auth_mode: str
    cognito_domain: str | None
    cognito_client_id: str | None
    poll_interval_ms: int
    max_file_size: int
    # Whether the service can e-mail a user when a job ends (the form offers it).
    email_notifications: bool


def read(name: str) -> tuple[str, str] | None:
    """A file of the page and its content type, by plain name only (nothing else is
    served); None if there is no such file."""
    path = WEB_DIR / name
    content_type = CONTENT_TYPES.get(path.suffix)
    if "/" in name or "\\" in name or content_type is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8"), content_type


def serve(name: str) -> Response:
    """A file of the page with its security headers, or a 404 error body."""
    found = read(name)
    if found is None:
        return error_response(404, "NOT_FOUND", "No existe.")
    body, content_type = found
    return Response(body=body, headers={"Content-Type": content_type, **PAGE_HEADERS})


def ui_config(settings: Settings) -> UiConfig:
    cognito = settings.auth_mode is AuthMode.COGNITO
    return UiConfig(
        auth_mode=settings.auth_mode.value,
        cognito_domain=settings.cognito_domain if cognito else None,
        cognito_client_id=cognito_client_id(settings) if cognito else None,
        poll_interval_ms=POLL_INTERVAL_MS,
        max_file_size=settings.max_file_size,
        email_notifications=bool(settings.email_sender),
    )
