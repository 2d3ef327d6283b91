"""Credentials for generated database roles.

Passwords are generated here and handed to PostgreSQL only as SCRAM-SHA-256 verifiers, so the plain
password never travels in a statement and cannot surface in a server log or an error message. The plain
value lives only in Pulumi state, as a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRAM_ITERATIONS = 4096
PASSWORD_BYTES = 24


def generate_password() -> str:
    """A URL-safe random password with 192 bits of entropy (ASCII, so SASLprep leaves it unchanged)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`` string PostgreSQL stores (RFC 5802/7677)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"
