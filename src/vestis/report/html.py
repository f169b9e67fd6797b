"""The review page of a run as one self-contained HTML file.

Every picture is embedded as a JPEG preview in a `data:` URI (large enough to judge a face),
so the page shows everything offline and can be mailed or archived alone. Each output sits
beside its input; clicking either opens both full size, side by side (the files are linked by
relative paths, which work while the page stays beside the outputs). Model swaps also show the
face of the input, the identity and the output side by side; flat-to-model outputs say what
their instruction asked for."""

from __future__ import annotations

import base64
import io
import os
from datetime import datetime
from html import escape
from pathlib import Path

from PIL import Image

from vestis.contract.jobs import describe_instruction
from vestis.report.collect import OutputImage, ReportData, RunView, collect
from vestis.report.faces import swap_crops

#: Long edge of the embedded previews (a swapped face is then about 60 px wide, not 20).
THUMB_EDGE = 900
SMALL_EDGE = 320
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
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr) 300px;gap:12px;margin:12px 0;
padding-top:12px;border-top:1px solid #eee}
.pair figure img{max-width:100%;max-height:80vh;cursor:zoom-in}
.pair.flat{grid-template-columns:200px minmax(0,1fr) 300px}
.garments{display:flex;flex-direction:column;gap:8px}
.pair figcaption{max-width:none}
.side{font-size:13px;display:flex;flex-direction:column;gap:8px}
.pair.swap{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}
.crops{display:flex;gap:10px;grid-column:1/-1;justify-content:center}
.crops figure img{width:200px;height:200px;max-width:none;cursor:default}
.identity img{max-width:140px;max-height:180px}
dl.instruction{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0}
dl.instruction dt{color:#666}dl.instruction dd{margin:0;font-weight:600}
#compare{position:fixed;inset:0;background:rgba(20,20,20,.96);display:none;flex-direction:column;
z-index:9}
#compare.on{display:flex}#compare .bar{color:#eee;padding:8px 14px;font-size:13px}
#compare .panes{flex:1;display:grid;grid-auto-flow:column;grid-auto-columns:1fr;gap:6px;
min-height:0}
#compare .pane{overflow:auto;background:#111}
#compare .pane img{max-width:none;max-height:none;border:0}
figcaption{font-size:11px;color:#555;max-width:180px;word-break:break-all;text-align:center}
.arrow{font-size:28px;color:#999;align-self:center}
.missing{width:120px;height:160px;display:flex;align-items:center;justify-content:center;
border:1px dashed #c62828;color:#c62828;font-size:12px;text-align:center}
.problems{font-size:13px} .problems li.fail{color:#c62828} .problems li.warn{color:#8d6e00}
table.summary{border-collapse:collapse;font-size:13px} table.summary td{padding:2px 10px}
.measures{font-size:11px;color:#2e7d32;max-width:180px;text-align:center}
.measures.bad{color:#c62828;font-weight:600}
"""


COMPARE_JS = """<div id="compare"><div class="bar">full size, side by side · scroll to move both ·
click or Esc to close</div><div class="panes"></div></div><script>
(function(){const box=document.getElementById('compare'),panes=box.querySelector('.panes');
let busy=false;function sync(src){if(busy)return;busy=true;
for(const p of panes.children){if(p!==src){p.scrollLeft=src.scrollLeft;p.scrollTop=src.scrollTop;}}
requestAnimationFrame(()=>busy=false);}
document.addEventListener('click',e=>{const a=e.target.closest('.pair a.full');
if(!a){if(box.contains(e.target))box.classList.remove('on');return;}e.preventDefault();
panes.replaceChildren(...[...a.closest('.pair').querySelectorAll('a.full')].map(l=>{
const d=document.createElement('div');d.className='pane';const i=document.createElement('img');
i.src=l.getAttribute('href');i.alt=l.title;d.append(i);d.addEventListener('scroll',()=>sync(d));
return d;}));box.classList.add('on');});
document.addEventListener('keydown',e=>{if(e.key==='Escape')box.classList.remove('on');});})();
</script>"""


def image_uri(image: Image.Image, edge: int = THUMB_EDGE) -> str:
    preview = image.copy()
    preview.thumbnail((edge, edge))
    buffer = io.BytesIO()
    preview.convert("RGB").save(buffer, "JPEG", quality=84)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uri(path: Path, edge: int = THUMB_EDGE) -> str | None:
    """A JPEG preview of the image as a data URI; None when the file is missing or unreadable."""
    try:
        with Image.open(path) as image:
            return image_uri(image, edge)
    except (OSError, ValueError):
        return None


def _measures(output: OutputImage) -> str:
    """One line under an output: its identity distance and verdict, whether the face looks
    like a photo (the realism defects by name), pixels kept, sharpness."""
    m = output.metrics or {}
    parts = []
    if m.get("identity_distance") is not None:
        verdict = "identity" if m.get("is_identity") else "NOT the identity"
        parts.append(f"{verdict} ({m['identity_distance']:.2f})")
    elif m.get("is_identity") is False:
        parts.append("NOT the identity (face lost)")
    realism = m.get("realism") if isinstance(m.get("realism"), dict) else None
    defects = [str(d) for d in (realism or {}).get("defects") or []]
    if realism is not None:
        parts.append(f"UNREAL: {', '.join(defects)}" if defects else "looks real")
    if m.get("unchanged_outside_head") is not None:
        parts.append(f"kept {100 * m['unchanged_outside_head']:.1f} %")
    if m.get("sharpness_ratio") is not None:
        parts.append(f"sharp {m['sharpness_ratio']:.2f}")
    if output.quality_score is not None and parts:
        parts.append(f"score {output.quality_score:.2f}")
    if not parts:
        return ""
    bad = " bad" if m.get("is_identity") is False or defects else ""
    return f'<div class="measures{bad}">{escape(" · ".join(parts))}</div>'


def _figure(
    path: Path, caption: str, page_dir: Path, measures: str = "", edge: int = THUMB_EDGE
) -> str:
    uri = thumbnail_uri(path, edge)
    if uri is None:
        return (
            f'<figure><div class="missing">missing<br>{escape(path.name)}</div>'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    href = escape(Path(os.path.relpath(path, page_dir)).as_posix())
    return (
        f'<figure><a class="full" href="{href}" title="{escape(path.name)}">'
        f'<img src="{uri}" alt="{escape(path.name)}"></a>'
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


def _crops(run: RunView, input_path: Path, output: OutputImage) -> str:
    crops = swap_crops(input_path, output.path, run.identity_image)
    figures = "".join(
        f'<figure><img src="{image_uri(crop)}" alt="{caption} face">'
        f"<figcaption>{caption}</figcaption></figure>"
        for caption, crop in crops
    )
    return f'<div class="crops">{figures}</div>' if figures else ""


def _instruction(run: RunView, output: OutputImage) -> str:
    if output.group_index >= len(run.instructions):
        return f"<p>instruction {output.group_index + 1}</p>"
    words = describe_instruction(run.instructions[output.group_index])
    rows = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in words)
    return f'<dl class="instruction">{rows}</dl>'


def _pairs(run: RunView, page_dir: Path) -> str:
    """Each output beside its input (model swap) or the flat-lays (flat-to-model), with the
    face crops or the instruction in words beside it."""
    rows: list[str] = []
    garments = "".join(_figure(p, p.name, page_dir, edge=SMALL_EDGE) for p in run.inputs)
    for output in run.outputs:
        caption = f"{output.path.name} ({output.model_used or '?'})"
        if run.kind == "swap":
            if output.image_index >= len(run.inputs):
                continue
            source = run.inputs[output.image_index]
            left, side = _figure(source, source.name, page_dir), _crops(run, source, output)
        else:
            left, side = f'<div class="garments">{garments}</div>', _instruction(run, output)
        out = _figure(output.path, caption, page_dir, _measures(output))
        if run.kind == "swap":  # the face crops go in a row of their own, under the pair
            rows.append(f'<div class="pair swap">{left}{out}{side}</div>')
        else:
            rows.append(f'<div class="pair flat">{left}{out}<div class="side">{side}</div></div>')
    made = {o.image_index for o in run.outputs}
    for index, source in enumerate(run.inputs if run.kind == "swap" else []):
        if index not in made:  # an input whose output failed or never came
            missing = '<div class="missing">no output</div>'
            rows.append(
                f'<div class="pair">{_figure(source, source.name, page_dir)}{missing}</div>'
            )
    if not run.outputs and run.kind != "swap":
        rows.append('<div class="missing">no output</div>')
    return "".join(rows)


def _identity(run: RunView) -> str:
    label = escape(run.identity_label or "identity")
    uri = thumbnail_uri(run.identity_image, SMALL_EDGE) if run.identity_image else None
    if uri is None:
        return f'<span class="facts">identity: {label}</span>' if run.identity_label else ""
    return (
        f'<figure class="identity"><img src="{uri}" alt="identity {label}">'
        f"<figcaption>identity · {label}</figcaption></figure>"
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
        f'<div class="row">{_identity(run)}<div><div class="facts">{_facts(run)}</div>'
        f"{_problems(run)}</div></div>{_pairs(run, page_dir)}</section>"
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
        "previews embedded; click one to compare the full-size files side by side</div>"
        f"{_summary_table(data)}{sections}{COMPARE_JS}</body></html>"
    )


def write_report(root: Path, output: Path | None = None) -> Path:
    """Write the review page of `root` (default `<root>/report.html`) and return its path."""
    target = output or root / REPORT_NAME
    data = collect(root)
    target.write_text(render(data, target.parent), encoding="utf-8")
    return target
