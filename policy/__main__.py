"""Paybill's policy pack: the platform invariants, enforced at preview on every stack.

Run it with ``pulumi preview --policy-pack policy`` (or ``preview(policy_packs=[...])`` from the Automation
API). All four policies are mandatory: a violation fails the preview before anything is changed.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from rules import encryption_violations, is_pool, is_silo, public_database_violations, tag_violations


def _report(check):  # type: ignore[no-untyped-def]
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for problem in check(args.resource_type, args.props):
            report(problem)

    return validate


def _ancestors(resource: PolicyResource) -> Iterator[str]:
    parent = resource.parent
    while parent is not None:
        yield parent.resource_type
        parent = parent.parent


def _silo_isolated(args: StackValidationArgs, report: ReportViolation) -> None:
    for resource in args.resources:
        if not is_silo(resource.resource_type, resource.props, _ancestors(resource)):
            continue
        referenced = list(resource.dependencies)
        for deps in resource.property_dependencies.values():
            referenced.extend(deps)
        for other in referenced:
            if is_pool(other.resource_type, other.props, _ancestors(other)):
                report(f"silo resource {resource.name} references pool resource {other.name}", resource.urn)


PolicyPack(
    name="paybill",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="tags-present",
            description="Every taggable resource carries the platform tags.",
            validate=_report(tag_violations),
        ),
        ResourceValidationPolicy(
            name="encryption-on",
            description="Data at rest is encrypted with customer keys.",
            validate=_report(encryption_violations),
        ),
        ResourceValidationPolicy(
            name="no-public-database",
            description="No database is reachable from the internet.",
            validate=_report(public_database_violations),
        ),
        StackValidationPolicy(
            name="silo-references-no-pool",
            description="A silo tenant shares nothing with a pool.",
            validate=_silo_isolated,
        ),
    ],
)
