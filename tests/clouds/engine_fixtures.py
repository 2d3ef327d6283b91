"""A stand-in database resource for the policy engine test: a dynamic resource whose provider does nothing.

It lives in its own module (on ``PYTHONPATH`` for the engine's dynamic-provider host) so the provider is pickled
by reference, not by value.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class NoopProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="noop", outs=props)


class FakeDatabase(Resource, module="test", name="FakeDatabase"):
    """Carries the properties the policies look at, as a cloud database would."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NoopProvider(), name, props, opts)
