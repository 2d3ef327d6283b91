"""Modules imported on first use.

Start-up time matters in two places: every engine run starts a dynamic-provider process that imports
:mod:`paybill_infra.local.provider` just to ``diff`` (a no-change run never touches PostgreSQL), and every
``paybill`` command imports the CLI. A :class:`LazyModule` stands in for a module until an attribute is
read; modules that import it under ``TYPE_CHECKING`` keep their static types.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """A stand-in for the module ``name``: the first attribute read imports it (parents included) and
    copies its namespace in, so later reads are plain attribute lookups."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)


def lazy_exports(package: str, where: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: a public name is imported from its submodule
    (``where[name]``) on first read and kept in ``namespace``, so importing the package stays cheap."""

    def load(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return load
