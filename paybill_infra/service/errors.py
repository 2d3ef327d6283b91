"""The service's own refusals; they extend :class:`~paybill_infra.errors.PaybillError` so one handler maps
every error to a problem document. None of them holds a credential."""

from __future__ import annotations

from dataclasses import dataclass

from paybill_infra.errors import PaybillError


@dataclass
class ServiceError(PaybillError):
    """A refusal with its HTTP status; ``field`` names the request field at fault, if one is."""

    status: int
    title: str
    detail: str
    field: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


def unauthenticated(detail: str) -> ServiceError:
    return ServiceError(401, "Unauthorized", detail, "authorization")


def forbidden(detail: str, field: str = "") -> ServiceError:
    return ServiceError(403, "Forbidden", detail, field)


def not_found(detail: str, field: str) -> ServiceError:
    return ServiceError(404, "Not Found", detail, field)


def conflict(detail: str, field: str) -> ServiceError:
    return ServiceError(409, "Conflict", detail, field)
