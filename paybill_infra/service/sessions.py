"""Browser sessions of the ops console: an API key (or a JWT) exchanged once for a short-lived cookie.

The cookie holds a signed token (HS256, PyJWT) with the principal, the id of the API key it came from,
an expiry of ``session_ttl_s`` and a random CSRF token. It is ``HttpOnly`` (scripts cannot read it),
``SameSite=Strict`` (no cross-site request carries it) and ``Secure`` whenever the request came over TLS.
A request authenticated by the cookie may only change state with the CSRF token in ``X-CSRF-Token``
(double submit, bound to the signed session); the page receives the token in a ``<meta>`` element.
A revoked API key ends its sessions at their next request.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from pydantic import BaseModel, ConfigDict, SecretStr

from paybill_infra.service.errors import forbidden, unauthenticated
from paybill_infra.service.models import Principal, Role, Scope

COOKIE = "paybill_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_AUDIENCE = "paybill-console"
_ALGORITHM = "HS256"


class Session(BaseModel):
    """A verified session: who, which API key (``None`` for a JWT login), and its CSRF token."""

    model_config = ConfigDict(frozen=True)

    principal: Principal
    key_id: str | None
    csrf: str
    expires_at: datetime


class Sessions:
    """Issues and verifies console session tokens with one server secret."""

    def __init__(self, secret: SecretStr | None, ttl_s: int) -> None:
        self._secret = secret.get_secret_value() if secret is not None else secrets.token_urlsafe(32)
        self.ttl = timedelta(seconds=ttl_s)

    def issue(self, principal: Principal, key_id: str | None, *, now: datetime | None = None) -> tuple[str, Session]:
        issued = now or datetime.now(UTC)
        session = Session(
            principal=principal, key_id=key_id, csrf=secrets.token_urlsafe(24), expires_at=issued + self.ttl
        )
        claims: dict[str, object] = {
            "sub": principal.subject,
            "role": principal.role.value,
            "tenant": principal.tenant,
            "scope": " ".join(sorted(s.value for s in principal.scopes)),
            "kid": key_id,
            "csrf": session.csrf,
            "aud": _AUDIENCE,
            "iat": int(issued.timestamp()),
            "exp": int(session.expires_at.timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), session

    def verify(self, token: str) -> Session:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["exp", "iat", "sub", "aud", "csrf"]},
            )
            principal = Principal(
                subject=str(claims["sub"]),
                role=Role(str(claims["role"])),
                tenant=claims.get("tenant"),
                scopes=frozenset(Scope(s) for s in str(claims.get("scope", "")).split()),
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("session expired; sign in again") from None
        except (jwt.PyJWTError, ValueError):
            raise unauthenticated("invalid session") from None
        kid = claims.get("kid")
        return Session(
            principal=principal,
            key_id=str(kid) if kid else None,
            csrf=str(claims["csrf"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )

    @staticmethod
    def check_csrf(session: Session, method: str, presented: str | None) -> None:
        """A state-changing request on a cookie session needs the session's CSRF token (403 otherwise)."""
        if method in SAFE_METHODS:
            return
        if not presented or not hmac.compare_digest(presented, session.csrf):
            raise forbidden("missing or wrong CSRF token", CSRF_HEADER)
