"""The review page of a run as one self-contained HTML file.

Every picture is embedded as a JPEG thumbnail in a `data:` URI, so the page shows everything
offline and can be mailed or archived alone; each thumbnail links to its full-size file by a
relative path (works offline as long as the page stays beside the outputs)."""

from __future__ import annotations

import base64
import io
import os
from datetime import datetime
from html import escape
from pathlib import Path

from PIL import Image

from vestis.report.collect import OutputImage, ReportData, RunView, collect

THUMB_EDGE = 360
REPORT_NAME = "report.html"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;
background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:0}
.meta{color:#666;font-size:13px;margin-bottom:16px}
.run{background:#fff;border:1px solid #ddd;border-radius:8px;padding:16px;margin:16px 0}
.head{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.badge{font-size:12px;padding:2px 8px;border-radius:10px;color:#fff}
.completed{background:#2e7d32}.failed,.aborted{background:#c62828}.incomplete{background:#ef6c00}
.facts{font-size:13px;color:#444;margin:6px 0 10px}
.row{display:flex;gap:16px;align-items:flex-start;margin:10px 0;flex-wrap:wrap}
.col{display:flex;flex-direction:column;gap:6px}
.label{font-size:12px;color:#666;text-transform:uppercase;letter-spacing:.04em}
figure{margin:0;display:flex;flex-direction:column;align-items:center}
figure img{max-width:180px;max-height:240px;border:1px solid #ccc;border-radius:4px;background:#eee}
figcaption{font-size:11px;color:#555;max-width:180px;word-break:break-all;text-align:center}
.arrow{font-size:28px;color:#999;align-self:center}
.missing{width:120px;height:160px;display:flex;align-items:center;justify-content:center;
border:1px dashed #c62828;color:#c62828;font-size:12px;text-align:center}
.problems{font-size:13px} .problems li.fail{color:#c62828} .problems li.warn{color:#8d6e00}
table.summary{border-collapse:collapse;font-size:13px} table.summary td{padding:2px 10px}
.measures{font-size:11px;color:#2e7d32;max-width:180px;text-align:center}
.measures.bad{color:#c62828;font-weight:600}
"""


def thumbnail_uri(path: Path) -> str | None:
    """A small JPEG of the image as a data URI; None when the file is missing or unreadable."""
    try:
        with Image.open(path) as image:
            image.thumbnail((THUMB_EDGE, THUMB_EDGE))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=82)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _measures(output: OutputImage) -> str:
    """One line under an output: its identity distance and verdict, pixels kept, sharpness."""
    m = output.metrics or {}
    parts = []
    if m.get("identity_distance") is not None:
        verdict = "identity" if m.get("is_identity") else "NOT the identity"
        parts.append(f"{verdict} ({m['identity_distance']:.2f})")
    elif m.get("is_identity") is False:
        parts.append("NOT the identity (face lost)")
    if m.get("unchanged_outside_head") is not None:
        parts.append(f"kept {100 * m['unchanged_outside_head']:.1f} %")
    if m.get("sharpness_ratio") is not None:
        parts.append(f"sharp {m['sharpness_ratio']:.2f}")
    if output.quality_score is not None and parts:
        parts.append(f"score {output.quality_score:.2f}")
    if not parts:
        return ""
    bad = " bad" if m.get("is_identity") is False else ""
    return f'<div class="measures{bad}">{escape(" · ".join(parts))}</div>'


def _figure(path: Path, caption: str, page_dir: Path, measures: str = "") -> str:
    uri = thumbnail_uri(path)
    if uri is None:
        return (
            f'<figure><div class="missing">missing<br>{escape(path.name)}</div>'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    href = Path(os.path.relpath(path, page_dir)).as_posix()
    return (
        f'<figure><a href="{escape(href)}"><img src="{uri}" alt="{escape(path.name)}"></a>'
        f"<figcaption>{escape(caption)}</figcaption>{measures}</figure>"
    )


def _facts(run: RunView) -> str:
    parts = [f"kind: {'model swap' if run.kind == 'swap' else 'flat-to-model'}"]
    if run.job_id:
        parts.append(f"job: {run.job_id}")
    parts.append(f"model used: {', '.join(run.models) or 'n/a'}")
    timings = run.timings
    for key, label in (
        ("upload_seconds", "upload"),
        ("job_seconds", "job"),
        ("download_seconds", "download"),
        ("total_seconds", "total"),
    ):
        if key in timings:
            parts.append(f"{label}: {timings[key]}s")
    parts.append(f"inputs: {len(run.inputs)}, outputs: {len(run.outputs)}")
    if run.measures:
        parts.append(f"measures: {run.measures}")
    return " · ".join(escape(str(p)) for p in parts)


def _pairs(run: RunView, page_dir: Path) -> str:
    """Model swap: each input beside its own outputs. Flat: all inputs, then every output."""
    rows: list[str] = []
    if run.kind == "swap":
        for index, path in enumerate(run.inputs):
            outs = [o for o in run.outputs if o.image_index == index]
            figures = (
                "".join(
                    _figure(
                        o.path, f"{o.path.name} ({o.model_used or '?'})", page_dir, _measures(o)
                    )
                    for o in outs
                )
                or '<div class="missing">no output</div>'
            )
            rows.append(
                f'<div class="row">{_figure(path, path.name, page_dir)}'
                f'<div class="arrow">&rarr;</div>{figures}</div>'
            )
        return "".join(rows)
    inputs = "".join(_figure(p, p.name, page_dir) for p in run.inputs)
    outputs = (
        "".join(
            _figure(
                o.path,
                f"{o.path.name} · instruction {o.group_index} ({o.model_used or '?'})",
                page_dir,
                _measures(o),
            )
            for o in run.outputs
        )
        or '<div class="missing">no output</div>'
    )
    return (
        f'<div class="col"><div class="label">inputs</div><div class="row">{inputs}</div></div>'
        f'<div class="col"><div class="label">outputs</div><div class="row">{outputs}</div></div>'
    )


def _problems(run: RunView) -> str:
    items = [f'<li class="fail">{escape(m)}</li>' for m in run.failures]
    if run.error and run.error not in run.failures:
        items.insert(0, f'<li class="fail">{escape(run.error)}</li>')
    items += [f'<li class="warn">{escape(m)}</li>' for m in run.warnings]
    if not items:
        return ""
    return f'<ul class="problems">{"".join(items)}</ul>'


def _run_section(run: RunView, page_dir: Path) -> str:
    return (
        f'<section class="run" id="{escape(run.name)}">'
        f'<div class="head"><h2>{escape(run.name)}</h2>'
        f'<span class="badge {escape(run.status)}">{escape(run.status)}</span></div>'
        f'<div class="facts">{_facts(run)}</div>{_problems(run)}'
        f"{_pairs(run, page_dir)}</section>"
    )


def _summary_table(data: ReportData) -> str:
    parts = []
    for path, s in data.summaries:
        cells = "".join(
            f"<td>{escape(k.replace('_', ' '))}: {escape(str(s.get(k)))}</td>"
            for k in ("total_folders", "successful", "failed", "total_time_seconds")
        )
        name = escape(path.relative_to(data.root).as_posix())
        parts.append(f"<tr><td><b>{name}</b></td>{cells}</tr>")
    if not parts:
        return ""
    return f'<table class="summary">{"".join(parts)}</table>'


def render(data: ReportData, page_dir: Path) -> str:
    done = sum(1 for r in data.runs if r.status == "completed")
    sections = "".join(_run_section(r, page_dir) for r in data.runs)
    if not data.runs:
        sections = "<p>No vestis run found in this folder.</p>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>vestis report: {escape(data.root.name)}</title><style>{CSS}</style></head><body>"
        f"<h1>vestis run report: {escape(data.root.name)}</h1>"
        f'<div class="meta">{escape(str(data.root.resolve()))} · {len(data.runs)} folder(s), '
        f"{done} completed · generated {datetime.now().isoformat(timespec='seconds')} · "
        "thumbnails embedded, click one for the full-size file</div>"
        f"{_summary_table(data)}{sections}</body></html>"
    )


def write_report(root: Path, output: Path | None = None) -> Path:
    """Write the review page of `root` (default `<root>/report.html`) and return its path."""
    target = output or root / REPORT_NAME
    data = collect(root)
    target.write_text(render(data, target.parent), encoding="utf-8")
    return target
