"""Fixtures of the cloud component tests (the scenarios themselves live in ``scenarios``)."""

from scenarios import combo

__all__ = ["combo"]
