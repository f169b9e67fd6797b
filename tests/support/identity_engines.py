"""Engine doubles for the identity measure: engines whose face is *not* the identity.

- `UnchangedEngine`: model swap returns the target as it was (the original model's face), but
  for one corner pixel coloured from the seed, so that a retry with another seed is another
  image. The measure must flag every output "not the identity".
- `SecondTryEngine`: the target unchanged on the first call for a target, then the identity's
  face pasted over the target's (a crude but real swap) on every later call: one retry fixes it.

- `SmearedEngine`: the target with its own face blurred (a swap that smears the face): the
  realism measure must name the defect ("sharpness").

All are FakeEngines otherwise (flat-to-model, detect_face).
"""

from __future__ import annotations

import hashlib
import threading

from PIL import Image, ImageFilter
from tests.support.fake_engine import FakeEngine, paste_face

from vestis.engines.base import EngineOutput, SwapSpec


def _unchanged(spec: SwapSpec) -> Image.Image:
    out = spec.target.convert("RGB").copy()
    out.putpixel((out.width - 1, out.height - 1), (spec.seed % 256, (spec.seed // 256) % 256, 7))
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
        pasted = None if first else paste_face(spec.target, spec.identity)
        image = pasted if pasted is not None else _unchanged(spec)
        return EngineOutput(image=image, model_used="second-try", quality_score=0.95)


class SmearedEngine(FakeEngine):
    name = "smeared"

    def model_swap(self, spec: SwapSpec) -> EngineOutput:
        from vestis.quality import face_signature

        self._wait()
        out = spec.target.convert("RGB").copy()
        face = face_signature(out)
        if face is not None:
            out.paste(out.crop(face.box).filter(ImageFilter.GaussianBlur(3)), face.box[:2])
        return EngineOutput(image=out, model_used="smeared", quality_score=0.95)
