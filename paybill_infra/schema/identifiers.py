"""Constrained string types shared by the schema.

A tenant slug ends up in DNS labels, SQL identifiers, IAM names, bucket names and stack names on five
clouds, so it is held to the intersection of their rules: lowercase ASCII letters, digits and single
inner hyphens, starting with a letter. No double hyphen is what keeps generated in-database names
collision-free: ``__`` separates a name's kind suffixes (``r_acme__g2``), and a slug can never produce it
(see ``paybill_infra.topology.naming``). Anything else (quotes, semicolons, spaces, ``$``, unicode) is
rejected here, at the edge, so no later layer has to escape it.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

SLUG_MIN = 3
SLUG_MAX = 40
SLUG_PATTERN = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"

RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "default",
        "paybill",
        "pooled",
        "postgres",
        "public",
        "pulumi",
        "root",
        "shared",
        "system",
        "template0",
        "template1",
        "www",
    }
)
"""Slugs that would collide with platform objects or be confusing in URLs and catalogs."""

RESERVED_PREFIXES = ("pg-", "xn--", "goog", "aws", "azure", "sql")
"""Prefixes some provider forbids or reserves (``pg_`` roles, punycode, GCP and AWS reserved names)."""


def _not_reserved(value: str) -> str:
    if value in RESERVED_SLUGS:
        raise ValueError(f"'{value}' is reserved; choose another slug")
    for prefix in RESERVED_PREFIXES:
        if value.startswith(prefix):
            raise ValueError(f"a slug may not start with '{prefix}' (reserved by a provider)")
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=SLUG_MIN, max_length=SLUG_MAX, pattern=SLUG_PATTERN),
    AfterValidator(_not_reserved),
]
"""A tenant slug: 3-40 chars of ``[a-z0-9-]``, starting with a letter, no leading, trailing or double hyphen."""

PlanName = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")]
"""A plan name: like a slug, no double hyphen (it names pool databases, see ``topology.naming``)."""

FeatureKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9_:.-]*$")]
"""Tag keys: the intersection of AWS tags, Azure tags, GCP labels and OCI freeform tags."""

TagValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^[a-z0-9_.:-]*$")]

Region = Annotated[str, StringConstraints(min_length=2, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]

DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]+$")
]
"""Free text for humans; control characters are refused so names cannot forge log lines."""

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]

_SLUG_RE = re.compile(SLUG_PATTERN)


def is_valid_slug(value: str) -> bool:
    """True when ``value`` is an acceptable tenant slug (used by callers that only need a yes/no)."""
    try:
        _not_reserved(value)
    except ValueError:
        return False
    return SLUG_MIN <= len(value) <= SLUG_MAX and _SLUG_RE.fullmatch(value) is not None
