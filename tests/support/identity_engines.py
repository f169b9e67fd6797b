"""Engine doubles for the identity measure: engines whose face is *not* the identity.

- `UnchangedEngine`: model swap returns the target as it was (the original model's face), but
  for one corner pixel coloured from the seed, so that a retry with another seed is another
  image. The measure must flag every output "not the identity".
- `SecondTryEngine`: the target unchanged on the first call for a target, then the identity's
  face pasted over the target's (a crude but real swap) on every later call: one retry fixes it.

Both are FakeEngines otherwise (flat-to-model, detect_face).
"""

from __future__ import annotations

import hashlib
import threading

from PIL import Image
from tests.support.fake_engine import FakeEngine

from vestis.engines.base import EngineOutput, SwapSpec
from vestis.quality import face_signature


def _unchanged(spec: SwapSpec) -> Image.Image:
    out = spec.target.convert("RGB").copy()
    out.putpixel((out.width - 1, out.height - 1), (spec.seed % 256, (spec.seed // 256) % 256, 7))
    return out


def paste_face(target: Image.Image, identity: Image.Image) -> Image.Image:
    """The identity's face box scaled onto the target's face box (a little margin around)."""
    t, d = face_signature(target), face_signature(identity)
    if t is None or d is None:
        return target.convert("RGB").copy()
    out = target.convert("RGB").copy()
    pad_t, pad_d = t.width // 6, d.width // 6
    region = (t.box[0] - pad_t, t.box[1] - pad_t, t.box[2] + pad_t, t.box[3] + pad_t)
    face = identity.crop((d.box[0] - pad_d, d.box[1] - pad_d, d.box[2] + pad_d, d.box[3] + pad_d))
    out.paste(face.resize((region[2] - region[0], region[3] - region[1])), region[:2])
    return out


class UnchangedEngine(FakeEngine):
    name = "unchanged"

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        self._wait()
        return EngineOutput(image=_unchanged(spec), model_used="unchanged", quality_score=0.95)


class SecondTryEngine(FakeEngine):
    name = "second-try"

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        self._wait()
        key = hashlib.blake2b(spec.target.tobytes(), digest_size=16).hexdigest()
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        image = _unchanged(spec) if first else paste_face(spec.target, spec.identity)
        return EngineOutput(image=image, model_used="second-try", quality_score=0.95)
