"""Lazy loading of cloud SDKs: a cloud's Pulumi SDK is imported only when its components are used."""

from __future__ import annotations

import importlib
from types import ModuleType

from paybill_infra.clouds.errors import CloudSdkMissingError
from paybill_infra.schema.enums import Cloud

EXTRAS: dict[Cloud, str] = {cloud: cloud.value for cloud in Cloud if cloud is not Cloud.LOCAL}
"""The pip extra of each cloud (``pip install 'paybill-infra[aws]'``)."""


def require_sdk(cloud: Cloud, *modules: str) -> tuple[ModuleType, ...]:
    """Import ``modules`` or raise :class:`CloudSdkMissingError` naming the pip extra that installs them."""
    loaded = []
    for module in modules:
        try:
            loaded.append(importlib.import_module(module))
        except ImportError as err:
            raise CloudSdkMissingError(str(cloud), module, EXTRAS[cloud]) from err
    return tuple(loaded)
