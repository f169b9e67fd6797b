"""The "AI-generated" mark baked into the bottom-right corner of an output."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

TEXT = "AI-generated"


def add_ai_watermark(image: Image.Image) -> Image.Image:
    """Return a copy of `image` with a small, legible "AI-generated" label in its bottom-right
    corner (white text on a semi-opaque dark box); nothing else changes."""
    base = image.convert("RGB")
    w, h = base.size
    size = max(10, min(w, h) // 36)
    font = ImageFont.load_default(size=size)
    probe = ImageDraw.Draw(base)
    left, top, right, bottom = probe.textbbox((0, 0), TEXT, font=font)
    pad = max(3, size // 3)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    margin = max(4, size // 2)
    x0, y0 = w - box_w - margin, h - box_h - margin
    region = base.crop((x0, y0, x0 + box_w, y0 + box_h)).convert("RGBA")
    overlay = Image.new("RGBA", region.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle([0, 0, box_w - 1, box_h - 1], radius=pad, fill=(20, 20, 20, 150))
    draw.text((pad - left, pad - top), TEXT, font=font, fill=(255, 255, 255, 235))
    marked = Image.alpha_composite(region, overlay).convert("RGB")
    out = base.copy()
    out.paste(marked, (x0, y0))
    return out
