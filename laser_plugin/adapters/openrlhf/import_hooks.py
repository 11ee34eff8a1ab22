"""Run a callback right after a module is imported (or now, if it already is).

Ray pickles classes by reference, so a class swapped in the driver never reaches a worker: each
worker process must patch its own copy of the upstream module. Patching at import time (rather than
importing every OpenRLHF module in every worker up front) keeps the worker start-up cost unchanged.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Callable

Callback = Callable[[ModuleType], None]


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, module_name: str, callback: Callback) -> None:
        self.module_name = module_name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module_name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        original_exec = spec.loader.exec_module
        callback = self.callback

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            callback(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def after_import(module_name: str, callback: Callback) -> None:
    """Call ``callback(module)`` once ``module_name`` is imported (immediately if it already is)."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    if any(isinstance(f, _AfterImport) and f.module_name == module_name for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _AfterImport(module_name, callback))
