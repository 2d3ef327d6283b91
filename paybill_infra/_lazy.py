"""Modules imported on first use.

Start-up time matters in two places: every engine run starts a dynamic-provider process that imports
:mod:`paybill_infra.local.provider` just to ``diff`` (a no-change run never touches PostgreSQL), and every
``paybill`` command imports the CLI. A :class:`LazyModule` stands in for a module until an attribute is
read; modules that import it under ``TYPE_CHECKING`` keep their static types.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """A stand-in for the module ``name``: the first attribute read imports it (parents included) and
    copies its namespace in, so later reads are plain attribute lookups."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)
