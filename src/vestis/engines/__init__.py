"""Engines do the image work behind the server (protocol: `vestis.engines.base`); they import
quality and contract, and only `remote` imports the client."""

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
