"""`vestis data info` and `vestis data clear`: the embedded server's data dir (where the runs
with no --base-url and no credentials keep identities, projects, jobs and images), seen and
cleared from the command line. Output folders (results, journals) are the user's and never
touched here."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from vestis.cli.connection import embedded_data_dir

data_app = typer.Typer(
    help="The embedded server's data (used when no --base-url and no credentials are given): "
    "see it, clear it.",
    no_args_is_help=True,
)

DATABASE_FILE = "vestis.db"
#: What a data dir made by vestis holds; `clear` deletes nothing that has none of them.
MARKERS = (DATABASE_FILE, "embedded-token", "blobs")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Another data dir (default: the embedded server's, VESTIS_DATA_DIR or the user's "
        "data folder).",
        show_default=False,
    ),
]


@dataclass
class DataInfo:
    data_dir: str
    exists: bool
    bytes: int = 0
    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    jobs_by_status: dict[str, int] = field(default_factory=dict)
    last_job: str | None = None
    in_use: bool = False


def _folder(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else embedded_data_dir()


def _disk(folder: Path) -> tuple[int, int]:
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


def _counts(folder: Path) -> tuple[dict[str, int], dict[str, int], str | None]:
    """What the database holds, read as it is (no migration). Empty when it cannot be read (a
    database from another vestis version): the sizes on disk still say what there is."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from vestis.server.store.db import Database
    from vestis.server.store.models import File, Identity, Job, JobOutput, Project

    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    db = Database(f"sqlite:///{folder / DATABASE_FILE}")
    try:
        with db.session() as session:
            kept = Identity.deleted.is_(False)
            counts = {
                "identities": count(select(func.count(Identity.id)).where(kept)),
                "unusable identities": count(
                    select(func.count(Identity.id)).where(
                        kept & (Identity.preprocessing_status == "failed")
                    )
                ),
                "projects": count(select(func.count(Project.id))),
                "uploaded images": count(select(func.count(File.id))),
                "outputs": count(
                    select(func.count(JobOutput.id)).where(JobOutput.blob_key.is_not(None))
                ),
            }
            rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
            by_status = {str(status): int(n) for status, n in rows}
            last = session.scalar(select(func.max(Job.created_at)))
    except SQLAlchemyError:
        return {}, {}, None
    finally:
        db.dispose()
    return counts, by_status, f"{last:%Y-%m-%d %H:%M} UTC" if last else None


def read_info(folder: Path) -> DataInfo:
    from vestis.server.store.datadir import DataDirLock

    info = DataInfo(data_dir=str(folder), exists=folder.is_dir())
    if not info.exists:
        return info
    info.bytes, info.files = _disk(folder)
    info.in_use = DataDirLock(folder).in_use()
    if (folder / DATABASE_FILE).is_file():
        info.counts, info.jobs_by_status, info.last_job = _counts(folder)
    return info


def _size(count: int) -> str:
    """1234567 -> "1.2 MB" (powers of 1000, as disks are sold)."""
    if count < 1000:
        return f"{count} bytes"
    value = float(count)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def _describe(info: DataInfo) -> list[str]:
    if not info.exists:
        return [f"Data dir: {info.data_dir} (nothing yet: it is made by the first run)"]
    c = info.counts
    unusable = c.get("unusable identities", 0)
    jobs = sum(info.jobs_by_status.values())
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(info.jobs_by_status.items()))
    lines = [
        f"Data dir: {info.data_dir}",
        f"Size: {_size(info.bytes)} in {info.files} files",
        f"Identities: {c.get('identities', 0)}"
        + (f" ({unusable} without a usable face)" if unusable else ""),
        f"Projects: {c.get('projects', 0)}",
        f"Jobs: {jobs}" + (f" ({statuses}); last on {info.last_job}" if jobs else ""),
        f"Images: {c.get('uploaded images', 0)} uploaded, {c.get('outputs', 0)} outputs",
    ]
    if info.in_use:
        lines.append("In use by a running vestis command now.")
    lines.append("Clear it with: vestis data clear")
    return lines


@data_app.command("info")
def data_info(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Where the embedded server's data is, how big it is and what it holds."""
    info = read_info(_folder(data_dir))
    if as_json:
        typer.echo(json.dumps(asdict(info), indent=2))
    else:
        typer.echo("\n".join(_describe(info)))


@data_app.command("clear")
def data_clear(
    data_dir: DataDir = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
) -> None:
    """Delete the embedded server's data: its identities, projects, jobs, images and local
    token. Results already downloaded into output folders stay; a later run of such a folder
    starts its job again (on a fresh library, its identity is uploaded again)."""
    folder = _folder(data_dir)
    if not folder.exists():
        typer.echo(f"Nothing to clear: {folder} does not exist.")
        return
    if not folder.is_dir() or not any((folder / m).exists() for m in MARKERS):
        _refuse(f"{folder} does not look like a vestis data dir (no {DATABASE_FILE}); not touched.")
    info = read_info(folder)
    if info.in_use:
        _refuse(
            f"{folder} is in use by a running vestis command (a run on the embedded server, "
            "vestis studio or vestis serve): stop it first."
        )
    what = f"{folder} ({_size(info.bytes)}, {info.counts.get('identities', 0)} identities, "
    what += f"{sum(info.jobs_by_status.values())} jobs)"
    if not yes and not typer.confirm(f"Delete {what}?", default=False):
        typer.echo("Nothing deleted.", err=True)
        raise typer.Exit(1)
    shutil.rmtree(folder)
    typer.echo(f"Deleted {what}.")


def _refuse(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
