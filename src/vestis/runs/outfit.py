"""Flat-to-model's folder rule: one folder is one outfit, worn together in every output.

The local engine draws every photo of a folder on one body, each as a garment of its own, so
two garments for the same place (two dresses, two pairs of trousers) are drawn one over the
other and the lower one fails the output as "hidden under the garments drawn over it", after
the upload and the job. The file names tell most of it before anything is sent.

The engine decides a garment's kind from its note, its file name, then its silhouette
(`engines.local.garments`); runs/ may not import engines (DESIGN.md), so this is the file-name
part only, with the same words. A name that says nothing is let through: the engine still
decides, and still says what it found.
"""

from __future__ import annotations

import re
from pathlib import Path

RULE = (
    "One folder is one outfit worn together: every output dresses one body in all of its "
    "garments (several photos of one garment are fine)."
)

#: Kinds and the words that name them, checked in this order, as the local engine checks them
#: (the first kind with a matching word wins: "shirt dress" is a dress, "cardigan" outerwear).
_KIND_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("pair of shoes", ("shoe", "shoes", "sneaker", "sneakers", "boot", "boots", "heel", "heels",
                       "sandal", "sandals", "loafer", "loafers", "footwear", "trainers", "pumps")),
    ("dress", ("dress", "gown", "jumpsuit", "overall", "romper", "playsuit")),
    ("jacket", ("cardigan", "jacket", "coat", "blazer", "parka", "outerwear", "trench",
                "puffer", "overshirt", "outer")),
    ("bottom", ("pants", "trousers", "jeans", "skirt", "shorts", "leggings", "bottom",
                "bottoms", "lower", "chinos", "joggers", "culottes")),
    ("top", ("top", "shirt", "tshirt", "tee", "blouse", "vest", "tank", "sweater", "jumper",
             "knit", "hoodie", "sweatshirt", "polo", "camisole", "cami", "upper", "bodysuit",
             "pullover", "tunic", "bra")),
]  # fmt: skip

_PLURAL = {"pair of shoes": "pairs of shoes", "dress": "dresses", "jacket": "jackets",
           "bottom": "bottoms", "top": "tops"}  # fmt: skip

#: Words of a name that say it is another view of the same garment, not a second garment.
_VIEW_WORDS = frozenset(
    {"front", "back", "side", "detail", "closeup", "close", "view", "angle", "left", "right",
     "inside", "label", "zoom", "alt"}
)  # fmt: skip


def _words(name: str) -> list[str]:
    stem = Path(name).stem.lower().replace("t-shirt", "tshirt")
    return re.findall(r"[a-z]+", stem)


def kind_from_name(name: str) -> str | None:
    """The kind of garment a file name names (`pair of shoes`, `dress`, `jacket`, `bottom`,
    `top`), or None."""
    words = set(_words(name))
    for kind, names in _KIND_WORDS:
        if words & set(names):
            return kind
    return None


def _is_view(name: str) -> bool:
    return bool(set(_words(name)) & _VIEW_WORDS)


def clashes(files: list[Path]) -> dict[str, list[str]]:
    """Kind -> the files that name it, for every kind named by two files or more; photos
    named as views (`dress-front.jpg`, `dress-back.jpg`) count as one garment."""
    by_kind: dict[str, list[str]] = {}
    for path in files:
        kind = kind_from_name(path.name)
        if kind is not None:
            by_kind.setdefault(kind, []).append(path.name)
    return {
        kind: names
        for kind, names in by_kind.items()
        if len(names) > 1 and not all(_is_view(n) for n in names)
    }


def clash_message(folder: Path, found: dict[str, list[str]]) -> str:
    """One message for every clash of a folder: the files, why, and what to do."""
    lines = [
        f"  - {', '.join(names)}: {len(names)} {_PLURAL[kind]}" for kind, names in found.items()
    ]
    return (
        f"{folder} holds garments that would hide each other:\n" + "\n".join(lines) + "\n"
        f"{RULE} The local engine draws them one over the other, so the one underneath would "
        "fail the job after the upload. Split the folder: one folder per outfit (nothing "
        "was uploaded)."
    )
