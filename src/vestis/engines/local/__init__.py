"""The local engine: model swap and flat-to-model on a CPU, using only the models that ship
inside the mediapipe wheel, plus OpenCV, numpy and Pillow. No network, no downloaded weights.

Imports `engines.base` and `quality`."""

from vestis.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
