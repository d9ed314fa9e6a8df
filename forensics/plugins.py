"""Self-registering plug-ins: importing a package's modules is what registers their classes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Collection
from types import ModuleType


def import_submodules(package: ModuleType, skip: Collection[str] = ()) -> None:
    """Import every module of ``package`` except ``skip`` (each defines its plug-in classes)."""
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in skip:
            importlib.import_module(f"{package.__name__}.{module.name}")
