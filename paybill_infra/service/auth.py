"""Authentication (API keys or JWT) and authorization (roles, scopes, tenant ownership).

- **API keys** look like ``pbk_<id>_<secret>``. Only ``sha256(secret)`` is stored: the secret has 256
  bits of entropy, so a slow password hash would add latency without adding safety. The id finds the row;
  the digest is compared in constant time. The plaintext is shown once, when the key is created.
- **JWTs** (HS256, PyJWT) must carry ``sub``, ``role``, ``exp``, ``iat``, ``iss`` and ``aud``; a tenant
  admin's token also carries ``tenant``. ``scope`` is a space-separated list (RFC 8693 style).
- A forged, expired or unknown credential is a 401; a missing scope is a 403; another tenant's resources
  are a 404 for a tenant admin (it must not learn which tenants exist).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from pydantic import SecretStr, ValidationError

from paybill_infra.service.errors import forbidden, not_found, unauthenticated
from paybill_infra.service.models import Principal, Role, Scope
from paybill_infra.service.store import Store

KEY_PREFIX = "pbk_"
ALGORITHM = "HS256"
ALL_SCOPES = frozenset(Scope)
KNOWN_SCOPES = frozenset(s.value for s in Scope)
TENANT_ADMIN_SCOPES = frozenset({Scope.TENANTS_READ, Scope.TENANTS_WRITE, Scope.OPERATIONS_READ})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    store: Store, subject: str, role: Role, *, tenant: str | None = None, scopes: frozenset[Scope] | None = None
) -> SecretStr:
    """Store a new key (hashed) and return its plaintext, which is never shown again."""
    principal = _principal(subject, role, tenant, scopes)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    store.add_key(key_id, _digest(secret), principal.subject, principal.role, principal.tenant, principal.scopes)
    return SecretStr(f"{KEY_PREFIX}{key_id}_{secret}")


def issue_token(
    secret: SecretStr,
    subject: str,
    role: Role,
    *,
    issuer: str,
    audience: str,
    tenant: str | None = None,
    scopes: frozenset[Scope] | None = None,
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> SecretStr:
    """A signed JWT for ``subject`` (an identity provider's job in production; here for tools and tests)."""
    principal = _principal(subject, role, tenant, scopes)
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": principal.subject,
        "role": principal.role.value,
        "scope": " ".join(sorted(s.value for s in principal.scopes)),
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if principal.tenant is not None:
        claims["tenant"] = principal.tenant
    return SecretStr(jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM))


class Authenticator:
    """Turns a bearer credential into a :class:`Principal`, or raises a 401 problem."""

    def __init__(self, store: Store, jwt_secret: SecretStr | None, *, issuer: str, audience: str) -> None:
        self.store = store
        self._jwt_secret = jwt_secret
        self.issuer = issuer
        self.audience = audience

    def authenticate(self, credential: str | None) -> Principal:
        if not credential:
            raise unauthenticated("missing bearer credential")
        if credential.startswith(KEY_PREFIX):
            return self._api_key(credential.removeprefix(KEY_PREFIX))
        return self._jwt(credential)

    def _api_key(self, body: str) -> Principal:
        key_id, _, secret = body.partition("_")
        row = self.store.key(key_id) if key_id and secret else None
        if row is None or not hmac.compare_digest(row.digest, _digest(secret)):
            raise unauthenticated("invalid API key")
        return Principal(
            subject=row.subject, role=Role(row.role), tenant=row.tenant, scopes=frozenset(map(Scope, row.scopes))
        )

    def _jwt(self, token: str) -> Principal:
        if self._jwt_secret is None:
            raise unauthenticated("JWT authentication is not configured")
        try:
            claims = jwt.decode(
                token,
                self._jwt_secret.get_secret_value(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("token expired") from None
        except jwt.PyJWTError:
            raise unauthenticated("invalid token") from None
        try:
            scopes = frozenset(Scope(s) for s in str(claims.get("scope", "")).split() if s in KNOWN_SCOPES)
            return _principal(str(claims["sub"]), Role(str(claims.get("role"))), claims.get("tenant"), scopes)
        except (ValueError, ValidationError):
            raise unauthenticated("token claims are invalid") from None


def _principal(subject: str, role: Role, tenant: object, scopes: frozenset[Scope] | None) -> Principal:
    if role is Role.TENANT_ADMIN and not tenant:
        raise ValueError("a tenant admin needs a tenant")
    granted = scopes if scopes is not None else (ALL_SCOPES if role is Role.PLATFORM_ADMIN else TENANT_ADMIN_SCOPES)
    if role is Role.TENANT_ADMIN:
        granted = granted & TENANT_ADMIN_SCOPES
    return Principal(
        subject=subject,
        role=role,
        tenant=str(tenant) if role is Role.TENANT_ADMIN else None,
        scopes=granted,
    )


def require(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise forbidden(f"missing scope '{scope.value}'", "scope")


def require_platform(principal: Principal, action: str) -> None:
    if principal.role is not Role.PLATFORM_ADMIN:
        raise forbidden(f"only a platform admin may {action}", "role")


def check_tenant(principal: Principal, slug: str | None) -> None:
    """A tenant admin sees only its own tenant; anything else does not exist for it (404)."""
    if principal.role is Role.TENANT_ADMIN and slug != principal.tenant:
        raise not_found(f"no tenant '{slug}'" if slug else "not found", "slug")
