"""Engines do the image work behind the server. See `vestis.engines.base` for the protocol."""

from vestis.engines.base import (
    Engine,
    EngineError,
    EngineOutput,
    FaceInfo,
    FlatGarment,
    FlatSpec,
    SwapSpec,
)

__all__ = [
    "Engine",
    "EngineError",
    "EngineOutput",
    "FaceInfo",
    "FlatGarment",
    "FlatSpec",
    "SwapSpec",
]
