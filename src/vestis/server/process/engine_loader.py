"""Turn the `--engine` setting into an Engine: one engine, or an ordered chain of them
(`onmodel,local`), always wrapped in an `EngineChain` so the server has one way to call it."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from vestis.engines.base import Engine
from vestis.engines.chain import EngineChain

#: Short names for the engines that ship with vestis.
ENGINE_ALIASES = {
    "local": "vestis.engines.local:LocalEngine",
    "onmodel": "vestis.engines.remote:OnModelEngine",
    "fashn": "vestis.engines.remote:FashnEngine",
}


def load_chain(spec: str) -> EngineChain:
    """`"onmodel,local"`: the engines of a comma-separated list, in order, as one chain."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise ValueError("No engine given: --engine takes e.g. 'local' or 'onmodel,local'.")
    if len(set(names)) != len(names):
        raise ValueError(f"--engine {spec!r} names an engine twice.")
    return EngineChain([load_engine(name) for name in names])


def load_engine(spec: str) -> Engine:
    """`"local"` or `"package.module:attr"`; `attr` is a class or factory called without
    arguments, or an engine instance."""
    path = ENGINE_ALIASES.get(spec, spec)
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        known = ", ".join(repr(name) for name in ENGINE_ALIASES)
        raise ValueError(
            f"Unknown engine {spec!r}: use one of {known}, or 'package.module:attr' of an "
            "engine of your own."
        )
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
    try:
        engine = target() if is_factory else target
    except ValueError as exc:  # a remote engine without its settings (EngineConfigError)
        raise ValueError(f"Engine {spec!r} cannot start: {exc}") from exc
    if not isinstance(engine, Engine):
        raise ValueError(f"{spec!r} does not implement the Engine protocol.")
    return engine
