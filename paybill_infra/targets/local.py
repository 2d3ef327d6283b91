"""The local target: infrastructure is the embedded PostgreSQL (or the server ``PAYBILL_PG_URL`` names).

It has no infrastructure stacks: the server exists (or is started on demand by the database layer's
providers), so every stack of the local target is a database-layer stack, with the names stacks had before
the fleet spanned several targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.base import Member, Program, Target

LOCAL_REGION = "local"


class LocalTarget(Target):
    cloud = Cloud.LOCAL

    def known_regions(self) -> frozenset[str]:
        return frozenset({LOCAL_REGION})

    def stack_prefix(self, region: str) -> str:
        return ""

    def platform_program(self, region: str) -> Program | None:
        return None

    def tenants_program(self, region: str, platform: Mapping[str, Any], members: tuple[Member, ...]) -> Program | None:
        return None
