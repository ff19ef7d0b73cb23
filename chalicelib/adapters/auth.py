"""Bearer JWT identity: who the caller is and which tenant they belong to.

Deployed, tokens are Cognito user-pool tokens (RS256, keys from the pool's JWKS);
locally and in tests they are HS256 tokens signed with a local secret. The user id
only ever comes from a verified token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jwt

from chalicelib.adapters.aws import ssm_client
from chalicelib.core.errors import Unauthenticated
from chalicelib.core.settings import AuthMode, Settings

LOCAL_ISSUER = "dkt-jobs-local"
LOCAL_AUDIENCE = "dkt-jobs"
LOCAL_TENANT_CLAIM = "tenant"


@dataclass(frozen=True)
class Identity:
    """The verified caller."""

    user_id: str
    tenant_id: str
    # The user's address, where the token carries it verified (Cognito id tokens do).
    email: str | None = None


def authenticate(authorization: str | None, settings: Settings) -> Identity:
    """Verifies an `Authorization: Bearer ...` header value; raises Unauthenticated."""
    if not authorization:
        raise Unauthenticated("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization is not a bearer token")
    if settings.auth_mode is AuthMode.COGNITO:
        claims = _verify_cognito(token.strip(), settings)
        tenant_claim = settings.tenant_claim
    else:
        claims = _verify_local(token.strip(), settings)
        tenant_claim = LOCAL_TENANT_CLAIM
    user_id = claims.get("sub")
    tenant_id = claims.get(tenant_claim)
    if not isinstance(user_id, str) or not user_id:
        raise Unauthenticated("token has no subject")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise Unauthenticated(f"token has no {tenant_claim} claim")
    return Identity(user_id=user_id, tenant_id=tenant_id, email=_verified_email(claims))


def _verified_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if claims.get("email_verified") not in (True, "true"):
        return None
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return None
    return email


def _verify_local(token: str, settings: Settings) -> dict[str, Any]:
    if not settings.local_jwt_secret:
        raise Unauthenticated("local tokens are not configured")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.local_jwt_secret,
            algorithms=["HS256"],
            audience=LOCAL_AUDIENCE,
            issuer=LOCAL_ISSUER,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid local token: {type(exc).__name__}") from exc
    return claims


def _verify_cognito(token: str, settings: Settings) -> dict[str, Any]:
    try:
        signing_key = _jwks_client(settings.cognito_issuer).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=settings.cognito_issuer,
            options={"require": ["exp", "sub", "iss", "token_use"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid Cognito token: {type(exc).__name__}") from exc
    # Id tokens carry the app client in `aud`, access tokens in `client_id`.
    client = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
    if client != cognito_client_id(settings):
        raise Unauthenticated("Cognito token issued for another app client")
    return claims


def cognito_client_id(settings: Settings) -> str:
    """The app client whose tokens the API accepts (from the setting, or its SSM parameter)."""
    if settings.cognito_audience:
        return settings.cognito_audience
    return _parameter(settings.cognito_audience_parameter)


@functools.cache
def _parameter(name: str) -> str:
    return str(ssm_client().get_parameter(Name=name)["Parameter"]["Value"])


@functools.cache
def _jwks_client(issuer: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", cache_keys=True)
