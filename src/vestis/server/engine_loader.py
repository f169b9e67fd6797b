"""Turn the `--engine` setting into an Engine instance."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from vestis.engines.base import Engine

#: Short names for the engines that ship with vestis.
ENGINE_ALIASES = {"local": "vestis.engines.local:LocalEngine"}


def load_engine(spec: str) -> Engine:
    """`"local"` or `"package.module:attr"`; `attr` is a class or factory called without
    arguments, or an engine instance."""
    path = ENGINE_ALIASES.get(spec, spec)
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"Engine {spec!r} is not 'local' or 'module:attr'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"Cannot import engine module {module_name!r}: {exc}") from exc
    target: Any = getattr(module, attr, None)
    if target is None:
        raise ValueError(f"Module {module_name!r} has no attribute {attr!r}.")
    # A class satisfies the runtime Protocol check too (its methods are attributes), so
    # classes are always instantiated; other callables only if they are not engines already.
    is_factory = inspect.isclass(target) or (callable(target) and not isinstance(target, Engine))
    engine = target() if is_factory else target
    if not isinstance(engine, Engine):
        raise ValueError(f"{spec!r} does not implement the Engine protocol.")
    return engine
