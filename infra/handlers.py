"""The one way to import a function's handler: from the file template.yaml names for it.

The local run, ``omo2c invoke``, the tests, the benchmarks and the OpenAPI generator all load
handlers through here, so each handler module is imported once per process and logical id,
like a warm Lambda container.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.template import Template, load

_modules: dict[tuple[str, Path], ModuleType] = {}
_lock = threading.RLock()


def load_handler(logical_id: str, template: Template | None = None) -> ModuleType:
    """The handler module of function ``logical_id`` (of ``template``, by default template.yaml), imported once."""
    path = (template or load()).functions[logical_id].module_path
    with _lock:
        module = _modules.get((logical_id, path))
        if module is None:
            name = f"omo2c_handler_{logical_id}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{logical_id}: no handler module at {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            _modules[(logical_id, path)] = module
        return module


def entry_point(logical_id: str, template: Template | None = None) -> Callable[[Any, Any], Any]:
    """The function the template's ``Handler`` names, e.g. ``worker.lambda_handler``."""
    function = (template or load()).functions[logical_id]
    return getattr(load_handler(logical_id, template), function.entry_point)
