"""The import page: plain HTML, CSS and JS files shipped in chalicelib/web/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.adapters.auth import cognito_client_id
from chalicelib.core.settings import AuthMode, Settings

WEB_DIR = Path(__file__).parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
POLL_INTERVAL_MS = 2_000


def read(name: str) -> tuple[str, str] | None:
    """A file of the page and its content type, by plain name only (nothing else is
    served); None if there is no such file."""
    path = WEB_DIR / name
    content_type = CONTENT_TYPES.get(path.suffix)
    if "/" in name or "\\" in name or content_type is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8"), content_type


def ui_config(settings: Settings) -> dict[str, Any]:
    """What the page needs to sign in and poll; no secret in it."""
    return {
        "authMode": settings.auth_mode.value,
        "cognitoDomain": settings.cognito_domain
        if settings.auth_mode is AuthMode.COGNITO
        else None,
        "cognitoClientId": cognito_client_id(settings)
        if settings.auth_mode is AuthMode.COGNITO
        else None,
        "pollIntervalMs": POLL_INTERVAL_MS,
        "maxFileSize": settings.max_file_size,
    }
