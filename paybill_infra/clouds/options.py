"""Checks the cloud components' ``*Args`` run when they are constructed, so a bad value fails at the line
that wrote it, with a typed error naming the option and what was expected, before any resource exists."""

from __future__ import annotations

import ipaddress

from paybill_infra.clouds.errors import ConflictingOptionsError, InvalidOptionError


def check_cidr(component: str, option: str, value: str, *, largest_prefix: int = 24) -> None:
    """``value`` is an IPv4 network (``10.40.0.0/16``: no host bits set) of at least ``/largest_prefix``."""
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        raise InvalidOptionError(
            component, option, "an IPv4 network in CIDR form such as 10.40.0.0/16", value
        ) from None
    if network.prefixlen > largest_prefix:
        raise ConflictingOptionsError(component, [option], f"must be /{largest_prefix} or larger, got {value}")


def check_at_least(component: str, option: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise InvalidOptionError(component, option, f"at least {minimum}", value)
