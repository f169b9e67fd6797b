"""The measures of a folder's outputs in a few words, from the raw results body (metadata.json):
how many faces are the identity, how much of the garments came back untouched, how far apart
the set's faces are. Servers that do not measure (no `metrics` in the results) give nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: Two faces closer than this are the same person (the server's measure, dlib embeddings).
SAME_PERSON = 0.6


def summarise(body: dict[str, Any]) -> str | None:
    """E.g. "identity 3/4 (farthest 0.71), looks real 2/4 (2 with defects: skin_blotch x2),
    garments kept 99.9 %, set spread 0.42"."""
    results = [r for r in body.get("results") or [] if isinstance(r, dict)]
    metrics = [
        r["metrics"]
        for r in results
        if r.get("status") == "completed" and isinstance(r.get("metrics"), dict)
    ]
    if not metrics:
        return None
    parts = []
    verdicts = [m.get("is_identity") for m in metrics if m.get("is_identity") is not None]
    if verdicts:
        part = f"identity {sum(1 for v in verdicts if v)}/{len(verdicts)}"
        distances = [m["identity_distance"] for m in metrics if m.get("identity_distance")]
        if distances:
            part += f" (farthest {max(distances):.2f})"
        parts.append(part)
    realism = _realism(metrics)
    if realism:
        parts.append(realism)
    kept = [m["unchanged_outside_head"] for m in metrics if m.get("unchanged_outside_head")]
    if kept:
        parts.append(f"garments kept {_percent(min(kept))}")
    parts += _product_parts(metrics)
    spread = (body.get("summary") or {}).get("identity_consistency")
    if isinstance(spread, int | float):
        flag = "" if spread < SAME_PERSON else " (not one face)"
        parts.append(f"set spread {spread:.2f}{flag}")
    return ", ".join(parts) or None


def _realism(metrics: list[dict[str, Any]]) -> str | None:
    """How many measured faces look like a photo, and the defects of the others by count: an
    identity count alone would pass faces nobody would publish."""
    reports = [m["realism"] for m in metrics if isinstance(m.get("realism"), dict)]
    if not reports:
        return None
    defects = Counter(str(d) for r in reports for d in dict.fromkeys(r.get("defects") or []))
    flagged = sum(1 for r in reports if r.get("defects") or r.get("ok") is False)
    part = f"looks real {len(reports) - flagged}/{len(reports)}"
    if flagged:
        named = ", ".join(f"{name} x{count}" for name, count in defects.most_common())
        part += f" ({flagged} with defects: {named})" if named else f" ({flagged} flagged)"
    return part


def _product_parts(metrics: list[dict[str, Any]]) -> list[str]:
    """Recolours: the farthest ΔE2000 from the colour asked for and the least share kept
    outside the garment; packshots: how many garments came out whole."""
    parts = []
    deltas = [m["delta_e2000"] for m in metrics if isinstance(m.get("delta_e2000"), int | float)]
    if deltas:
        parts.append(f"colour ΔE2000 ≤ {max(deltas):.1f}")
    outside = [
        m["unchanged_outside_garment"]
        for m in metrics
        if isinstance(m.get("unchanged_outside_garment"), int | float)
    ]
    if outside:
        parts.append(f"outside the garment kept {_percent(min(outside))}")
    whole = [m["garment_whole"] for m in metrics if m.get("garment_whole") is not None]
    if whole:
        parts.append(f"garments whole {sum(1 for w in whole if w)}/{len(whole)}")
    return parts


def _percent(share: float) -> str:
    """99.97 % shows as 99.9 %, never rounded up to a 100 % it is not."""
    if share >= 1.0:
        return "100 %"
    return f"{int(share * 1000) / 10:.1f} %"
