"""Deterministic resource names within each provider's length and character rules.

Every physical name is built from a prefix and the tenant slug, sanitised to the target's alphabet. When
the result is too long it is cut and a hash of the *full* name is appended, so two different long slugs
never collapse onto the same name and the same input always yields the same output.

Names that live in a database server's namespaces (roles, schemas, databases: :data:`DATABASE_KINDS`, the
control plane's migrated roles and pool databases) follow a stricter scheme, :func:`scoped_name`, because
there a collision is an attack: a schema named like another tenant's role lands first on that role's
``"$user"`` search path. The scheme is ``<marker>_<body>[__<suffix>]...``:

- the *marker* says the kind (``r`` tenant role, ``s`` schema, ``d`` database, ``pool``/``poolowner`` for
  the control plane's pool database and its owner, ``pb`` for the other local names); it holds no ``_``,
  so the first ``_`` ends it and two kinds never share a name;
- the *body* is a slug or plan name with ``-`` turned into ``_``; slugs and plan names never hold ``--``,
  so a body never holds ``__``;
- each *suffix* (``g<N>`` migration generation, ``NNN`` pool ordinal) follows ``__``, so
  ``x-app``'s role ``r_x_app`` can never equal a name of ``x`` (``r_x``, ``r_x__g1``);
- a name over the length limit keeps a head and ends in ``__h`` plus 10 hex digits of SHA-256 of the full
  name; no untruncated name ends that way (no suffix starts with ``h``), so truncated names only collide
  when the hash does.

``tests/unit/test_naming_injective.py`` checks these claims over generated pairs of valid slugs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from paybill_infra.errors import FieldProblem, InvalidInputError
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
_SUFFIXES: dict[NameKind, str] = {NameKind.IDENTITY: "tenant"}

DATABASE_KINDS: dict[NameKind, str] = {NameKind.DB_USER: "r", NameKind.SCHEMA: "s", NameKind.DATABASE: "d"}
"""The kinds that name objects inside a PostgreSQL server, with their markers (see the module docstring)."""
BRIDGE_DATABASE = "paybill_bridge"
"""The shared database of bridge tenants (one per server)."""
POOLED_SCHEMA = "pooled"
"""The schema of every pool database that holds its tenants' rows (row-level security)."""
SILO_SCHEMA = "app"
"""The schema of a silo tenant's own database."""
POOL_DATABASE_MARKER = "pool"
POOL_OWNER_MARKER = "poolowner"
SCOPED_HASH_LEN = 10
_BODY = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def scoped_name(rule: NameRule, marker: str, body: str, *suffixes: str) -> str:
    """``<marker>_<body>[__<suffix>]...`` under ``rule`` (see the module docstring for why it is injective).

    ``body`` must be a slug-shaped string (letters, digits, single inner hyphens); anything else would
    break the scheme, so it is refused with :class:`InvalidInputError` rather than sanitised.
    """
    if not _BODY.fullmatch(body):
        raise InvalidInputError(
            "name", [FieldProblem("body", f"expected [a-z][a-z0-9]* with single inner hyphens, got {body!r}")]
        )
    sep = _SEPARATORS[rule.alphabet]
    if not sep:
        raise InvalidInputError("name", [FieldProblem("rule", f"alphabet {rule.alphabet} has no separator")])
    kind_sep = sep * 2
    name = marker + sep + body.replace("-", sep) + "".join(kind_sep + suffix for suffix in suffixes)
    if len(name) <= rule.max_len:
        return name
    tail = kind_sep + "h" + short_hash(name, SCOPED_HASH_LEN)
    return name[: rule.max_len - len(tail)].rstrip(sep) + tail


def names_for(cloud: Cloud, slug: str) -> dict[NameKind, str]:
    """Every logical name of tenant ``slug`` on ``cloud``, each within that cloud's rule for its kind."""
    return {kind: name_for(cloud, slug, kind) for kind in NameKind}


def name_for(cloud: Cloud, slug: str, kind: NameKind) -> str:
    """One logical name of tenant ``slug`` on ``cloud`` (a listing needs one per tenant, not all eleven)."""
    rule = RULES[cloud][kind]
    if kind in DATABASE_KINDS:
        return scoped_name(rule, DATABASE_KINDS[kind], slug)
    # A suffix follows a doubled separator, as in scoped names: `acme`'s identity never equals the plain
    # name of a tenant called `acme-tenant`.
    sep = _SEPARATORS[rule.alphabet]
    suffix = sep + _SUFFIXES[kind] if kind in _SUFFIXES else ""
    return make_name(rule, _PREFIXES[kind], slug, suffix)


def tenant_role(slug: str, generation: int) -> str:
    """A tenant's login role in generation ``generation``: ``r_<slug>`` at 0 (the topology's own
    ``DB_USER`` name), ``r_<slug>__g<N>`` after the N-th topology migration (source and target roles exist
    side by side until the data is moved)."""
    if generation < 0:
        raise InvalidInputError("tenant_role", [FieldProblem("generation", f"expected >= 0, got {generation}")])
    suffixes = (f"g{generation}",) if generation else ()
    return scoped_name(_POSTGRES, DATABASE_KINDS[NameKind.DB_USER], slug, *suffixes)


def pool_database(plan: str, ordinal: int) -> str:
    """The database of the control plane's ``ordinal``-th pool of ``plan``: ``pool_<plan>__<NNN>``."""
    return scoped_name(_POSTGRES, POOL_DATABASE_MARKER, plan, _ordinal(ordinal))


def pool_owner(plan: str, ordinal: int) -> str:
    """The owner role of that pool database: ``poolowner_<plan>__<NNN>``."""
    return scoped_name(_POSTGRES, POOL_OWNER_MARKER, plan, _ordinal(ordinal))


def _ordinal(ordinal: int) -> str:
    if ordinal < 0:
        raise InvalidInputError("pool", [FieldProblem("ordinal", f"expected >= 0, got {ordinal}")])
    return f"{ordinal:03d}"
