"""Local bearer tokens, accepted by the service when AUTH_MODE=local (never deployed)."""

from __future__ import annotations

import time

import jwt

from chalicelib.adapters.auth import LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_CLAIM

# The local stack's signing key. It signs nothing but tokens for this machine's stack.
DEV_JWT_SECRET = "dkt-jobs-local-development-secret-not-for-production"


def issue_local_token(
    user_id: str,
    tenant_id: str,
    secret: str = DEV_JWT_SECRET,
    ttl_s: int = 12 * 3600,
    email: str | None = None,
) -> str:
    """A token for `user_id` in `tenant_id`, valid for `ttl_s` seconds; with `email`, the
    user's address (verified, as Cognito says of its users' addresses)."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        LOCAL_TENANT_CLAIM: tenant_id,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
        **({"email": email, "email_verified": True} if email else {}),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
