"""What the jpeglib lock costs a server with two workers, measured side by side in one run.

Every JPEG output is encoded like its source and given back the source's own DCT blocks where the
engine left the pixels alone (`server/media/jpeg_blocks.py`); jpeglib is called by one thread at a
time
(its C wrapper keeps markers in process globals). This encodes `--outputs` photo-sized JPEG
outputs (`--megapixels`, a head-sized patch changed) with `images.encode`:

* one thread, one output after another;
* two threads at once, as `vestis serve --workers 2` and the embedded server deliver;

and prints outputs per second, the two-thread speed-up over one thread, and the share of an
encode spent holding the lock (what two workers wait on each other for). Engine and measuring
time, which stay parallel, are left out: this is the worst case for the lock.

    python -m benchmarks jpeg_delivery [--outputs 12] [--megapixels 6]
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image  # noqa: E402

from vestis.runs.samples import make_pdp_photo  # noqa: E402
from vestis.server import images, jpeg_blocks  # noqa: E402


class TimedLock:
    """The real lock, with the time it was held added up."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.held = 0.0
        self._since = 0.0

    def __enter__(self) -> None:
        self.lock.acquire()
        self._since = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.held += time.perf_counter() - self._since
        self.lock.release()


def cases(megapixels: float) -> list[tuple[Image.Image, Image.Image]]:
    width = int((megapixels * 1e6 * 2 / 3) ** 0.5)
    made = []
    for index in range(2):
        photo = make_pdp_photo(index).resize((width, width * 3 // 2), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)
        source = images.open_image(buffer.getvalue())
        out = source.copy()
        side = width // 5
        out.paste(
            (190, 140, 120), (width // 2 - side // 2, side // 2, width // 2 + side // 2, side * 2)
        )
        made.append((source, out))
    return made


def run(threads: int, outputs: int, work: list[tuple[Image.Image, Image.Image]]) -> float:
    """Seconds for `outputs` encodes spread over `threads` threads."""
    per_thread = outputs // threads

    def deliver(number: int) -> None:
        for k in range(per_thread):
            source, out = work[(number + k) % len(work)]
            images.encode(out, "jpg", like=source)

    pool = [threading.Thread(target=deliver, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", type=int, default=12)
    parser.add_argument("--megapixels", type=float, default=6.0)
    args = parser.parse_args()
    outputs = args.outputs - args.outputs % 2
    work = cases(args.megapixels)
    timed = TimedLock(jpeg_blocks._JPEGLIB)
    jpeg_blocks._JPEGLIB = timed  # type: ignore[assignment]
    run(2, 2, work)  # warm-up: jpeglib's library loaded, caches filled
    timed.held = 0.0
    one = run(1, outputs, work)
    held_one = timed.held
    two = run(2, outputs, work)
    print(f"{outputs} JPEG outputs of {args.megapixels:g} MP, encoded like their sources")
    print(f"  1 thread : {outputs / one:6.2f} outputs/s")
    print(f"  2 threads: {outputs / two:6.2f} outputs/s  ({one / two:.2f}x one thread)")
    print(f"  share of an encode holding the jpeglib lock: {held_one / one:.0%}")
    print(f"  ({held_one / outputs * 1000:.0f} ms of {one / outputs * 1000:.0f} ms per output)")


if __name__ == "__main__":
    main()
