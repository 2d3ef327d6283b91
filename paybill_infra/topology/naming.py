"""Deterministic resource names within each provider's length and character rules.

Every physical name is built from a prefix and the tenant slug, sanitised to the target's alphabet. When
the result is too long it is cut and a hash of the *full* name is appended, so two different long slugs
never collapse onto the same name and the same input always yields the same output.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from paybill_infra.schema.enums import Cloud

HASH_LEN = 8


class Alphabet(StrEnum):
    """The character classes names are reduced to."""

    SQL = "sql"
    """Lowercase SQL identifier: ``[a-z0-9_]``, starting with a letter."""
    DNS = "dns"
    """Lowercase DNS-label style: ``[a-z0-9-]``, starting with a letter, not ending with a hyphen."""
    ALNUM = "alnum"
    """Lowercase letters and digits only (e.g. Azure storage accounts)."""
    LABEL = "label"
    """Mixed identifiers allowing ``_`` and ``-`` (IAM roles, OCI display names)."""


@dataclass(frozen=True)
class NameRule:
    max_len: int
    alphabet: Alphabet
    min_len: int = 1


_SEPARATORS = {Alphabet.SQL: "_", Alphabet.DNS: "-", Alphabet.ALNUM: "", Alphabet.LABEL: "-"}
_INVALID = {
    Alphabet.SQL: re.compile(r"[^a-z0-9_]"),
    Alphabet.DNS: re.compile(r"[^a-z0-9-]"),
    Alphabet.ALNUM: re.compile(r"[^a-z0-9]"),
    Alphabet.LABEL: re.compile(r"[^a-zA-Z0-9_-]"),
}


def short_hash(text: str, length: int = HASH_LEN) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def make_name(rule: NameRule, *parts: str) -> str:
    """Join ``parts`` under ``rule``; shorten with a hash suffix when over ``rule.max_len``."""
    sep = _SEPARATORS[rule.alphabet]
    raw = sep.join(p for p in parts if p)
    name = _INVALID[rule.alphabet].sub(sep or "", raw.replace("-", sep).replace("_", sep))
    if len(name) > rule.max_len:
        suffix = short_hash(raw)
        keep = rule.max_len - len(suffix) - len(sep)
        name = name[:keep].rstrip("-_") + sep + suffix
    if len(name) < rule.min_len:
        name = name + sep + short_hash(raw, rule.min_len)
    return name


class NameKind(StrEnum):
    """The logical names every topology carries; each cloud realises them under its own rules."""

    PREFIX = "prefix"
    DATABASE = "database"
    DB_USER = "db_user"
    SCHEMA = "schema"
    SERVER = "server"
    NETWORK = "network"
    KEY = "key"
    IDENTITY = "identity"
    BUCKET = "bucket"
    GROUP = "group"
    SECRET = "secret"  # noqa: S105 - the name kind of a secret-store entry, not a secret


_POSTGRES = NameRule(63, Alphabet.SQL)
_DNS63 = NameRule(63, Alphabet.DNS)

RULES: dict[Cloud, dict[NameKind, NameRule]] = {
    Cloud.LOCAL: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: _DNS63,
        NameKind.NETWORK: _DNS63,
        NameKind.KEY: _DNS63,
        NameKind.IDENTITY: _POSTGRES,
        NameKind.BUCKET: _DNS63,
        NameKind.GROUP: _POSTGRES,
        NameKind.SECRET: _DNS63,
    },
    Cloud.AWS: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: _DNS63,  # RDS DB identifier: 63, letter first, no trailing hyphen
        NameKind.NETWORK: NameRule(255, Alphabet.LABEL),
        NameKind.KEY: NameRule(250, Alphabet.LABEL),  # alias/<name>, 256 minus "alias/"
        NameKind.IDENTITY: NameRule(64, Alphabet.LABEL),  # IAM role name
        NameKind.BUCKET: NameRule(63, Alphabet.DNS, 3),
        NameKind.GROUP: NameRule(255, Alphabet.DNS),  # DB subnet group
        NameKind.SECRET: NameRule(512, Alphabet.LABEL),
    },
    Cloud.AZURE: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: NameRule(63, Alphabet.DNS, 3),  # Flexible Server
        NameKind.NETWORK: NameRule(64, Alphabet.LABEL, 2),  # VNet
        NameKind.KEY: NameRule(24, Alphabet.DNS, 3),  # Key Vault name
        NameKind.IDENTITY: NameRule(128, Alphabet.LABEL, 3),  # user-assigned identity
        NameKind.BUCKET: NameRule(24, Alphabet.ALNUM, 3),  # storage account
        NameKind.GROUP: NameRule(90, Alphabet.LABEL),  # resource group
        NameKind.SECRET: NameRule(127, Alphabet.DNS),
    },
    Cloud.GCP: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: NameRule(63, Alphabet.DNS),  # Cloud SQL instance id (with project: 98)
        NameKind.NETWORK: _DNS63,
        NameKind.KEY: NameRule(63, Alphabet.LABEL),  # KMS key ring / key
        NameKind.IDENTITY: NameRule(30, Alphabet.DNS, 6),  # service account id
        NameKind.BUCKET: NameRule(63, Alphabet.DNS, 3),
        NameKind.GROUP: NameRule(30, Alphabet.DNS, 6),  # project id
        NameKind.SECRET: NameRule(255, Alphabet.LABEL),
    },
    Cloud.OCI: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: NameRule(255, Alphabet.LABEL),  # DB system display name
        NameKind.NETWORK: NameRule(255, Alphabet.LABEL),
        NameKind.KEY: NameRule(255, Alphabet.LABEL),
        NameKind.IDENTITY: NameRule(100, Alphabet.LABEL),  # dynamic group / policy
        NameKind.BUCKET: NameRule(63, Alphabet.DNS),
        NameKind.GROUP: NameRule(100, Alphabet.LABEL),  # compartment
        NameKind.SECRET: NameRule(255, Alphabet.LABEL),
    },
    Cloud.IBM: {
        NameKind.PREFIX: _DNS63,
        NameKind.DATABASE: _POSTGRES,
        NameKind.DB_USER: _POSTGRES,
        NameKind.SCHEMA: _POSTGRES,
        NameKind.SERVER: _DNS63,  # Databases for PostgreSQL deployment
        NameKind.NETWORK: _DNS63,  # VPC
        NameKind.KEY: NameRule(90, Alphabet.LABEL),  # Key Protect key
        NameKind.IDENTITY: NameRule(100, Alphabet.LABEL),  # access group
        NameKind.BUCKET: NameRule(63, Alphabet.DNS, 3),
        NameKind.GROUP: NameRule(40, Alphabet.LABEL),  # resource group
        NameKind.SECRET: NameRule(180, Alphabet.LABEL),
    },
}

_PREFIXES: dict[NameKind, str] = {
    NameKind.PREFIX: "pb",
    NameKind.DATABASE: "t",
    NameKind.DB_USER: "t",
    NameKind.SCHEMA: "t",
    NameKind.SERVER: "pb",
    NameKind.NETWORK: "pb",
    NameKind.KEY: "pb",
    NameKind.IDENTITY: "pb",
    NameKind.BUCKET: "pb",
    NameKind.GROUP: "pb",
    NameKind.SECRET: "pb",
}
_SUFFIXES: dict[NameKind, str] = {NameKind.DB_USER: "app", NameKind.IDENTITY: "tenant"}


def names_for(cloud: Cloud, slug: str) -> dict[NameKind, str]:
    """Every logical name of tenant ``slug`` on ``cloud``, each within that cloud's rule for its kind."""
    return {kind: name_for(cloud, slug, kind) for kind in NameKind}


def name_for(cloud: Cloud, slug: str, kind: NameKind) -> str:
    """One logical name of tenant ``slug`` on ``cloud`` (a listing needs one per tenant, not all eleven)."""
    return make_name(RULES[cloud][kind], _PREFIXES[kind], slug, _SUFFIXES.get(kind, ""))
