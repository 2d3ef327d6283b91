"""How new stacks keep their secrets (a model of its own: the settings need it, reads must not import the
engine to get it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SecretsConfig(BaseModel):
    """The secrets provider new stacks are created with: ``passphrase`` (default; the engine settings warn
    loudly when the development passphrase is used) or a KMS URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Annotated[
        str, Field(pattern=r"^(passphrase|(awskms|azurekeyvault|gcpkms|hashivault)://\S+)$", max_length=512)
    ] = "passphrase"

    def for_workspace(self) -> str | None:
        return None if self.provider == "passphrase" else self.provider
