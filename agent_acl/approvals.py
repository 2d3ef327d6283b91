"""Human approval tokens for high-impact actions (OWASP LLM06: approval outside the model).

An :class:`ApprovalAuthority` holds an HMAC key the agent never sees. A human (or the approval service)
looks at an :class:`~agent_acl.errors.ApprovalRequest` and calls :meth:`ApprovalAuthority.issue`; the
token binds agent, tenant, workflow, step, the parameter digest and the compiled SQL hash, expires, and is
single-use. The session verifies and consumes it before running the step.

Single use is recorded in a :class:`~agent_acl.state.SharedState`: by default this authority's own memory (one
process); give every process the same :class:`~agent_acl.state.PostgresState` and a token is accepted once
across all of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict

from agent_acl.errors import ApprovalRequest, ConfigError, InvalidApproval
from agent_acl.state import MemoryState, SharedState

TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a credential


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ApprovalAuthority:
    """Issues and consumes approval tokens; used tokens are remembered in ``state``."""

    def __init__(
        self,
        key: bytes,
        *,
        ttl_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
        state: SharedState | None = None,
    ) -> None:
        if len(key) < 32:
            raise ConfigError("ApprovalAuthority", "the key must be at least 32 bytes")
        self._key = key
        self._ttl = ttl_seconds
        self._clock = clock
        self._state: SharedState = state if state is not None else MemoryState()

    def __repr__(self) -> str:
        return f"ApprovalAuthority(ttl_seconds={self._ttl}, key=***)"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def issue(self, request: ApprovalRequest, approver: str) -> str:
        """A token approving exactly ``request`` once, within the TTL."""
        body = {
            **asdict(request),
            "reasons": list(request.reasons),
            "approver": approver,
            "exp": self._clock() + self._ttl,
            "nonce": secrets.token_urlsafe(16),
        }
        payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return f"{TOKEN_VERSION}.{_b64(payload)}.{_b64(self._mac(payload))}"

    def consume(self, token: str, request: ApprovalRequest) -> str:
        """Verify ``token`` for ``request`` and mark it used; returns the approver. Raises InvalidApproval."""

        def deny(detail: str) -> InvalidApproval:
            return InvalidApproval(
                request.agent, request.tenant, request.workflow, request.step, "invalid_approval", detail
            )

        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise deny("malformed token")
        try:
            payload, mac = _unb64(parts[1]), _unb64(parts[2])
        except (ValueError, TypeError):
            raise deny("malformed token") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise deny("bad signature")
        body = json.loads(payload)
        expected = {k: v for k, v in asdict(request).items() if k != "reasons"}
        if any(body.get(k) != v for k, v in expected.items()):
            raise deny("token approves a different action or parameters")
        now = self._clock()
        if float(body["exp"]) < now:
            raise deny("token expired")
        token_id = hashlib.sha256(str(body["nonce"]).encode()).hexdigest()
        if not self._state.claim_token(token_id, float(body["exp"]), now):
            raise deny("token already used")
        return str(body["approver"])
